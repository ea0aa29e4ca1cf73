/* Decisions where the contract is open: `started` is posted once per page load, so again after
 * "Try again" (a new sign-in); a bank preselected by the server posts no `targetSelected`; the
 * failure screen shows a localized text but `error` carries the server's message; every form
 * field is required; the × and all posting exist only in the widget channel; "My bank is not
 * listed" keeps the picker and shows a note; "Cancel" while waiting closes the bank window and
 * counts as closing it (posts `close`); after `aisle:popup-done` a still-redirect view is polled
 * for up to 10 s more before the sign-in counts as cancelled; an unknown step kind shows the
 * loading screen and polls; a view that cannot be loaded shows the failure screen and posts
 * nothing (there is no state to post with); a waiting step (decoupled SCA) asks the server to
 * poll the bank at the pace the step names, never faster than once a second, and a failed poll
 * keeps the screen and tries again at that pace; "Cancel" on it is "Choose another bank". */
(function () {
  'use strict';

  const TEXTS = {
    en: {
      brand: 'Secure bank sign-in',
      close: 'Close',
      footer: 'Secured by Aisle',
      loading: 'Loading…',
      pickTitle: 'Connect your bank',
      pickIntro: '{client} asks to read your accounts, balances and transactions.',
      search: 'Search for your bank',
      searchPlaceholder: 'Bank name',
      country: 'Country',
      allCountries: 'All countries',
      hintRedirect: 'You\'ll approve access at your bank',
      hintForm: 'Sign in here',
      noMatch: 'No bank matches your search.',
      unlisted: 'My bank is not listed',
      unlistedNote: 'Thank you. We have told {client} that your bank is missing.',
      unsupportedNote: 'The bank you chose is not available here. Please choose another bank.',
      redirectText: 'You will approve access in a window from {bank}.',
      redirectTextTop: 'You will approve access on the website of {bank}.',
      continue: 'Continue to {bank}',
      chooseAnother: 'Choose another bank',
      popupBlocked: 'Your browser blocked the window. Open it here:',
      openBank: 'Open {bank}',
      waiting: 'Waiting for {bank}…',
      waitingHint: 'Finish in the {bank} window. This page updates by itself.',
      showWindow: 'Show the window',
      cancel: 'Cancel',
      cancelledTitle: 'Sign-in cancelled',
      cancelledText: 'The {bank} window was closed before you finished.',
      tryAgain: 'Try again',
      formTitle: 'Sign in to {bank}',
      formIntro: 'Enter your {bank} online banking details.',
      submit: 'Sign in',
      signingIn: 'Signing in…',
      successTitle: 'Connected to {bank}',
      successText: 'You can return to {client}.',
      returning: 'Taking you back to {client}…',
      failureTitle: 'Sign-in failed',
      InvalidCredentials: 'The bank did not accept those credentials.',
      AccessBlocked: 'Your access at the bank is blocked.',
      genericError: 'Something went wrong. Please try again.',
      gone: 'This sign-in is no longer available. Please start again.',
      appTitle: 'Approve in your banking app',
      appHint: 'This page updates by itself once you have approved.',
      chooseIntro: '{bank} can confirm it is you in more than one way.',
      continueStep: 'Continue',
    },
    de: {
      brand: 'Sichere Bankanmeldung',
      close: 'Schließen',
      footer: 'Gesichert durch Aisle',
      loading: 'Wird geladen…',
      pickTitle: 'Bank verbinden',
      pickIntro: '{client} möchte Ihre Konten, Salden und Umsätze lesen.',
      search: 'Bank suchen',
      searchPlaceholder: 'Name der Bank',
      country: 'Land',
      allCountries: 'Alle Länder',
      hintRedirect: 'Sie bestätigen den Zugriff bei Ihrer Bank',
      hintForm: 'Hier anmelden',
      noMatch: 'Keine Bank passt zu Ihrer Suche.',
      unlisted: 'Meine Bank ist nicht dabei',
      unlistedNote: 'Danke. Wir haben {client} mitgeteilt, dass Ihre Bank fehlt.',
      unsupportedNote: 'Die gewählte Bank ist hier nicht verfügbar. Bitte wählen Sie eine andere Bank.',
      redirectText: 'Sie bestätigen den Zugriff in einem Fenster von {bank}.',
      redirectTextTop: 'Sie bestätigen den Zugriff auf der Website von {bank}.',
      continue: 'Weiter zu {bank}',
      chooseAnother: 'Andere Bank wählen',
      popupBlocked: 'Ihr Browser hat das Fenster blockiert. Hier öffnen:',
      openBank: '{bank} öffnen',
      waiting: 'Warten auf {bank}…',
      waitingHint: 'Schließen Sie den Vorgang im Fenster von {bank} ab. Diese Seite aktualisiert sich selbst.',
      showWindow: 'Fenster anzeigen',
      cancel: 'Abbrechen',
      cancelledTitle: 'Anmeldung abgebrochen',
      cancelledText: 'Das Fenster von {bank} wurde geschlossen, bevor Sie fertig waren.',
      tryAgain: 'Erneut versuchen',
      formTitle: 'Bei {bank} anmelden',
      formIntro: 'Geben Sie Ihre Online-Banking-Zugangsdaten für {bank} ein.',
      submit: 'Anmelden',
      signingIn: 'Anmeldung läuft…',
      successTitle: 'Mit {bank} verbunden',
      successText: 'Sie können zu {client} zurückkehren.',
      returning: 'Zurück zu {client}…',
      failureTitle: 'Anmeldung fehlgeschlagen',
      InvalidCredentials: 'Die Bank hat diese Zugangsdaten nicht akzeptiert.',
      AccessBlocked: 'Ihr Zugang bei der Bank ist gesperrt.',
      genericError: 'Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.',
      gone: 'Diese Anmeldung ist nicht mehr verfügbar. Bitte beginnen Sie von vorn.',
      appTitle: 'In Ihrer Banking-App bestätigen',
      appHint: 'Diese Seite aktualisiert sich selbst, sobald Sie bestätigt haben.',
      chooseIntro: '{bank} kann auf mehreren Wegen bestätigen, dass Sie es sind.',
      continueStep: 'Weiter',
    },
    pl: {
      brand: 'Bezpieczne logowanie do banku',
      close: 'Zamknij',
      footer: 'Zabezpieczone przez Aisle',
      loading: 'Ładowanie…',
      pickTitle: 'Połącz swój bank',
      pickIntro: '{client} prosi o dostęp do Twoich rachunków, sald i transakcji.',
      search: 'Wyszukaj bank',
      searchPlaceholder: 'Nazwa banku',
      country: 'Kraj',
      allCountries: 'Wszystkie kraje',
      hintRedirect: 'Dostęp zatwierdzisz w swoim banku',
      hintForm: 'Zaloguj się tutaj',
      noMatch: 'Żaden bank nie pasuje do wyszukiwania.',
      unlisted: 'Mojego banku nie ma na liście',
      unlistedNote: 'Dziękujemy. Poinformowaliśmy {client}, że brakuje Twojego banku.',
      unsupportedNote: 'Wybrany bank nie jest tu dostępny. Wybierz inny bank.',
      redirectText: 'Dostęp zatwierdzisz w oknie banku {bank}.',
      redirectTextTop: 'Dostęp zatwierdzisz na stronie banku {bank}.',
      continue: 'Przejdź do {bank}',
      chooseAnother: 'Wybierz inny bank',
      popupBlocked: 'Przeglądarka zablokowała okno. Otwórz je tutaj:',
      openBank: 'Otwórz {bank}',
      waiting: 'Oczekiwanie na {bank}…',
      waitingHint: 'Dokończ w oknie banku {bank}. Ta strona odświeży się sama.',
      showWindow: 'Pokaż okno',
      cancel: 'Anuluj',
      cancelledTitle: 'Logowanie anulowane',
      cancelledText: 'Okno banku {bank} zostało zamknięte przed zakończeniem.',
      tryAgain: 'Spróbuj ponownie',
      formTitle: 'Logowanie: {bank}',
      formIntro: 'Podaj dane do bankowości internetowej {bank}.',
      submit: 'Zaloguj się',
      signingIn: 'Logowanie…',
      successTitle: 'Połączono z {bank}',
      successText: 'Możesz wrócić do {client}.',
      returning: 'Wracamy do {client}…',
      failureTitle: 'Logowanie nie powiodło się',
      InvalidCredentials: 'Bank nie zaakceptował tych danych logowania.',
      AccessBlocked: 'Twój dostęp w banku jest zablokowany.',
      genericError: 'Coś poszło nie tak. Spróbuj ponownie.',
      gone: 'To logowanie jest już niedostępne. Zacznij od nowa.',
      appTitle: 'Zatwierdź w aplikacji bankowej',
      appHint: 'Ta strona odświeży się sama po zatwierdzeniu.',
      chooseIntro: '{bank} może potwierdzić Twoją tożsamość na kilka sposobów.',
      continueStep: 'Dalej',
    },
  };

  const POLL_MS = 1000;
  const DONE_GRACE_MS = 10000;

  const match = /^\/signin\/s\/([^/]+)\/?$/.exec(window.location.pathname);
  const signInId = match ? decodeURIComponent(match[1]) : '';
  const apiBase = '/signin/api/' + encodeURIComponent(signInId);
  const goUrl = '/signin/s/' + encodeURIComponent(signInId) + '/go';

  // Framed pages keep a transparent background from the first paint.
  document.documentElement.classList.toggle('in-widget', window.parent !== window);

  const shell = document.getElementById('shell');
  const main = document.getElementById('main');
  const closeButton = document.getElementById('close');

  let view = null;
  let t = TEXTS.en;
  let busy = false;
  let moveFocus = false; // move focus to the new screen only after the owner did something
  let wait = null; // {popup, timer, done, graceUntil, inFlight, again} while waiting for the bank
  let lastHeight = 0;
  let stepTimer = null; // the next poll of a waiting step (decoupled SCA)
  const posted = { started: false, success: false, error: false, unsupported: false };
  const picker = { query: '', country: '', unlistedSent: false };

  // ---- helpers ----------------------------------------------------------------------------

  function tx(key, vars) {
    const all = Object.assign({ bank: bankName(), client: (view && view.clientName) || '' }, vars);
    const template = t[key] != null ? t[key] : TEXTS.en[key];
    return String(template).replace(/\{(\w+)\}/g, (m, k) => (all[k] != null ? String(all[k]) : m));
  }

  function bankName() {
    return (view && view.bank && view.bank.name) || '';
  }

  /** Makes an element: props are attributes, except `text`, `class` and `on<event>`. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.keys(props || {}).forEach((key) => {
      const value = props[key];
      if (value == null || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    });
    (children || []).forEach((child) => {
      if (child == null || child === false) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function heading(text) {
    return el('h1', { class: 'title', tabindex: '-1', text: text });
  }

  function button(id, text, onclick, kind) {
    return el('button', { type: 'button', id: id, class: kind || 'primary', text: text, onclick: onclick });
  }

  function spinner() {
    return el('span', { class: 'spinner', 'aria-hidden': 'true' });
  }

  function isWidget() {
    return !!view && view.channel === 'widget' && window.parent !== window;
  }

  function isRedirectStep(v) {
    return !!v && v.status === 'in_progress' && !!v.step && v.step.kind === 'redirect';
  }

  // ---- the JSON API -----------------------------------------------------------------------

  async function api(method, path, body) {
    const init = { method: method, headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(apiBase + path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && (data.detail || data.title)) || 'HTTP ' + response.status);
      error.status = response.status;
      error.code = data && data.code;
      throw error;
    }
    return data;
  }

  // ---- messages to the client page --------------------------------------------------------

  function post(event, fields) {
    if (!isWidget() || !view.parentOrigin) return false;
    const message = Object.assign({}, fields, { source: 'aisle', state: view.state, event: event });
    window.parent.postMessage(message, view.parentOrigin);
    return true;
  }

  function reportHeight() {
    const height = Math.ceil(shell.getBoundingClientRect().height);
    if (height !== lastHeight && post('resize', { height: height })) lastHeight = height;
  }

  if (typeof ResizeObserver === 'function') new ResizeObserver(reportHeight).observe(shell);
  window.addEventListener('resize', reportHeight);

  // ---- screens ----------------------------------------------------------------------------

  function setScreen(name, nodes) {
    main.dataset.screen = name;
    while (main.firstChild) main.removeChild(main.firstChild);
    nodes.forEach((node) => { if (node) main.appendChild(node); });
    if (moveFocus && name !== 'loading') {
      moveFocus = false;
      const target = main.querySelector('[data-autofocus]') || main.querySelector('.title');
      if (target) target.focus({ preventScroll: true });
    }
    reportHeight();
  }

  function showAlert(text) {
    const old = main.querySelector('.alert');
    if (old) old.remove();
    const alert = el('p', { class: 'alert', role: 'alert', text: text });
    const title = main.querySelector('.title');
    if (title) title.after(alert);
    else main.prepend(alert);
    reportHeight();
  }

  function showLoading(text) {
    setScreen('loading', [
      el('div', { class: 'center' }, [spinner(), el('p', { class: 'muted', role: 'status', text: text || tx('loading') })]),
    ]);
  }

  function render(next) {
    clearTimeout(stepTimer);
    stepTimer = null;
    view = next;
    t = TEXTS[view.locale] || TEXTS.en;
    document.documentElement.lang = TEXTS[view.locale] ? view.locale : 'en';
    document.documentElement.classList.toggle('in-widget', isWidget());
    document.getElementById('brand').textContent = tx('brand');
    document.getElementById('foot').textContent = tx('footer');
    closeButton.setAttribute('aria-label', tx('close'));
    closeButton.hidden = !isWidget();
    if (!posted.started) {
      posted.started = true;
      post('started');
    }
    if (view.status === 'picking') showPicker();
    else if (view.status === 'succeeded') showSuccess();
    else if (view.status === 'failed') showFailure();
    else if (view.status === 'in_progress' && view.step && view.step.kind === 'form') showForm();
    else if (view.status === 'in_progress' && view.step && view.step.kind === 'choose') showChoice();
    else if (view.status === 'in_progress' && view.step && view.step.kind === 'wait') showAppWait();
    else if (isRedirectStep(view)) showRedirect(false);
    else {
      // A step this page does not know yet: wait for the server to move on.
      showLoading();
      setTimeout(refresh, POLL_MS);
    }
  }

  async function refresh() {
    try {
      render(await api('GET', ''));
    } catch (e) {
      showGone(e);
    }
  }

  function showGone(error) {
    const message = error && error.status && error.status < 500 ? tx('gone') : tx('genericError');
    setScreen('failure', [el('div', { class: 'icon icon-fail', 'aria-hidden': 'true' }), heading(tx('failureTitle')), el('p', { text: message })]);
  }

  /** Runs an API call for the owner; `inline` keeps the screen and marks that button busy. */
  async function act(request, inline) {
    if (busy) return;
    busy = true;
    moveFocus = true;
    let label = null;
    if (inline) {
      label = inline.textContent;
      inline.disabled = true;
      inline.classList.add('busy');
      inline.textContent = tx('signingIn');
    } else {
      showLoading();
    }
    try {
      const next = await request();
      busy = false;
      render(next);
    } catch (error) {
      busy = false;
      const stale = error.status === 404 || error.status === 409 || error.status === 410;
      if (inline && !stale) {
        inline.disabled = false;
        inline.classList.remove('busy');
        inline.textContent = label;
        showAlert(error.status ? error.message : tx('genericError'));
        return;
      }
      let fresh = null;
      try {
        fresh = await api('GET', '');
      } catch (e) {
        showGone(e);
        return;
      }
      render(fresh);
      if (fresh.status !== 'failed') showAlert(error.status ? error.message : tx('genericError'));
    }
  }

  // 1. Picker

  // Letters that do not decompose into a base letter and an accent.
  const FOLD = { 'ł': 'l', 'ø': 'o', 'đ': 'd', 'ß': 'ss', 'æ': 'ae', 'œ': 'oe' };

  function normalize(text) {
    return String(text || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[łøđßæœ]/g, (c) => FOLD[c]);
  }

  function countryName(code) {
    try {
      return new Intl.DisplayNames([document.documentElement.lang], { type: 'region' }).of(code) || code;
    } catch (e) {
      return code;
    }
  }

  function showPicker() {
    const banks = Array.isArray(view.banks) ? view.banks : [];
    if (view.unsupportedBank && !posted.unsupported) {
      posted.unsupported = true;
      post('unsupportedTarget', { target: view.unsupportedBank, country: view.country || null });
    }

    const list = el('ul', { class: 'banks', id: 'banks' });
    const empty = el('p', { class: 'muted empty', text: tx('noMatch'), hidden: true });
    const unlistedNote = el('p', { class: 'note', role: 'status', text: tx('unlistedNote'), hidden: !picker.unlistedSent });

    function fill() {
      const query = normalize(picker.query.trim());
      while (list.firstChild) list.removeChild(list.firstChild);
      const shown = banks.filter((bank) =>
        (!picker.country || bank.country === picker.country) && normalize(bank.name).indexOf(query) !== -1);
      shown.forEach((bank) => {
        const hint = bank.signIn === 'form' ? tx('hintForm') : tx('hintRedirect');
        const initials = String(bank.name || bank.id || '?').trim().charAt(0).toUpperCase();
        list.appendChild(el('li', {}, [
          el('button', { type: 'button', class: 'bank', 'data-bank': bank.id, onclick: () => pick(bank) }, [
            el('span', { class: 'bank-logo', 'aria-hidden': 'true', text: initials }),
            el('span', { class: 'bank-text' }, [
              el('span', { class: 'bank-name', text: bank.name || bank.id }),
              el('span', { class: 'bank-hint', text: (!view.country && bank.country ? bank.country + ' · ' : '') + hint }),
            ]),
            el('span', { class: 'chevron', 'aria-hidden': 'true' }),
          ]),
        ]));
      });
      empty.hidden = shown.length > 0;
      reportHeight();
    }

    const search = el('input', {
      id: 'bank-search', type: 'search', autocomplete: 'off', spellcheck: 'false',
      placeholder: tx('searchPlaceholder'), value: picker.query,
      oninput: (e) => { picker.query = e.target.value; fill(); },
    });
    const filters = [el('div', { class: 'field grow' }, [el('label', { for: 'bank-search', text: tx('search') }), search])];

    if (!view.country) {
      const codes = Array.from(new Set(banks.map((b) => b.country).filter(Boolean)));
      const options = codes.map((code) => ({ code: code, name: countryName(code) }))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (picker.country && codes.indexOf(picker.country) === -1) picker.country = '';
      const select = el('select', { id: 'country', onchange: (e) => { picker.country = e.target.value; fill(); } }, [
        el('option', { value: '', text: tx('allCountries') }),
      ].concat(options.map((o) => el('option', { value: o.code, text: o.name, selected: o.code === picker.country }))));
      filters.push(el('div', { class: 'field' }, [el('label', { for: 'country', text: tx('country') }), select]));
    }

    setScreen('picker', [
      heading(tx('pickTitle')),
      view.clientName ? el('p', { class: 'muted', text: tx('pickIntro') }) : null,
      view.unsupportedBank ? el('p', { class: 'note', text: tx('unsupportedNote') }) : null,
      el('div', { class: 'filters' }, filters),
      list,
      empty,
      el('button', {
        type: 'button', id: 'unlisted', class: 'link', text: tx('unlisted'),
        onclick: () => {
          picker.unlistedSent = true;
          post('unsupportedTarget', { target: null, country: picker.country || view.country || null });
          unlistedNote.hidden = false;
          reportHeight();
        },
      }),
      unlistedNote,
    ]);
    fill();
  }

  function pick(bank) {
    if (busy) return;
    post('targetSelected', { target: bank.id, name: bank.name });
    act(() => api('POST', '/bank', { bank: bank.id }));
  }

  function chooseAnother() {
    stopWaiting(true);
    act(() => api('POST', '/back'));
  }

  // 2. Redirect step

  function showRedirect(blocked) {
    const top = !isWidget();
    const nodes = [
      el('div', { class: 'bank-badge', 'aria-hidden': 'true', text: bankName().charAt(0).toUpperCase() || '?' }),
      heading(bankName()),
      el('p', { text: tx(top ? 'redirectTextTop' : 'redirectText') }),
      button('continue', tx('continue'), openBank),
    ];
    if (blocked) {
      nodes.push(el('p', { class: 'note' }, [
        tx('popupBlocked') + ' ',
        el('a', { href: goUrl, target: '_blank', rel: 'opener', text: tx('openBank'), onclick: () => startWaiting(null) }),
      ]));
    }
    nodes.push(button('choose-another', tx('chooseAnother'), chooseAnother, 'link'));
    setScreen('redirect', nodes);
  }

  function openBank() {
    if (!isWidget()) {
      showLoading();
      window.location.assign(goUrl);
      return;
    }
    moveFocus = true;
    const popup = window.open(goUrl, 'aisle-bank', 'popup,width=480,height=720');
    if (!popup) {
      showRedirect(true);
      return;
    }
    startWaiting(popup);
  }

  function startWaiting(popup) {
    stopWaiting(false);
    wait = { popup: popup, timer: setInterval(poll, POLL_MS), done: false, graceUntil: 0, inFlight: false, again: false };
    showWaiting();
  }

  function stopWaiting(closePopup) {
    if (!wait) return;
    clearInterval(wait.timer);
    if (closePopup && wait.popup && !wait.popup.closed) wait.popup.close();
    wait = null;
  }

  function showWaiting() {
    const popup = wait && wait.popup;
    setScreen('waiting', [
      el('div', { class: 'center' }, [
        spinner(),
        heading(tx('waiting')),
        el('p', { class: 'muted', text: tx('waitingHint') }),
      ]),
      popup ? button('show-window', tx('showWindow'), () => { if (!popup.closed) popup.focus(); }, 'secondary') : null,
      button('cancel', tx('cancel'), cancelWaiting, 'link'),
    ]);
  }

  function cancelWaiting() {
    if (!wait) return;
    moveFocus = true;
    if (wait.popup && !wait.popup.closed) {
      wait.popup.close();
      wait.done = false; // the owner gave up: no grace period
      poll();
    } else {
      stopWaiting(false);
      post('close');
      showCancelled();
    }
  }

  async function poll() {
    const w = wait;
    if (!w) return;
    if (w.inFlight) {
      w.again = true;
      return;
    }
    w.inFlight = true;
    const closed = !!w.popup && w.popup.closed;
    let fresh = null;
    try {
      fresh = await api('GET', '');
    } catch (e) {
      fresh = null; // a transient failure: the next poll tries again
    }
    w.inFlight = false;
    if (wait !== w) return;
    if (fresh && !isRedirectStep(fresh)) {
      stopWaiting(true);
      moveFocus = true;
      render(fresh);
      return;
    }
    if (closed && !(w.done && Date.now() < w.graceUntil)) {
      stopWaiting(false);
      moveFocus = true;
      post('close');
      showCancelled();
      return;
    }
    if (w.again) {
      w.again = false;
      poll();
    }
  }

  window.addEventListener('message', (event) => {
    if (event.origin !== window.location.origin) return;
    if (!event.data || event.data.type !== 'aisle:popup-done' || !wait) return;
    wait.done = true;
    wait.graceUntil = Date.now() + DONE_GRACE_MS;
    poll();
  });

  function showCancelled() {
    setScreen('cancelled', [
      el('div', { class: 'icon icon-info', 'aria-hidden': 'true' }),
      heading(tx('cancelledTitle')),
      el('p', { text: tx('cancelledText') }),
      button('try-again', tx('tryAgain'), () => { moveFocus = true; showRedirect(false); }),
      button('choose-another', tx('chooseAnother'), chooseAnother, 'link'),
    ]);
  }

  // 3. Form step

  function fieldInput(field, id) {
    const props = { id: id, name: field.name, required: true };
    switch (field.kind) {
      case 'date':
        props.type = 'date';
        break;
      case 'phone':
        props.type = 'tel';
        props.autocomplete = 'tel';
        break;
      case 'secret':
        props.type = 'password';
        props.autocomplete = 'current-password';
        break;
      case 'oneTimeCode':
        props.type = 'text';
        props.inputmode = 'numeric';
        props.autocomplete = 'one-time-code';
        break;
      default:
        props.type = 'text';
        props.autocomplete = /login|user|psuid/i.test(field.name) ? 'username' : 'off';
        props.autocapitalize = 'none';
        props.spellcheck = 'false';
    }
    return el('input', props);
  }

  function showForm() {
    const fields = (view.step && Array.isArray(view.step.fields)) ? view.step.fields : [];
    const submit = el('button', { type: 'submit', id: 'submit', class: 'primary', text: tx('submit') });
    const inputs = fields.map((field, i) => fieldInput(field, 'field-' + i));
    if (inputs.length) inputs[0].setAttribute('data-autofocus', '');
    const rows = fields.map((field, i) => el('div', { class: 'field' }, [
      el('label', { for: 'field-' + i, text: field.label || field.name }), inputs[i],
    ]));
    const form = el('form', { id: 'signin-form', method: 'post', action: '#' }, rows.concat([submit]));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const values = {};
      fields.forEach((field, i) => {
        const value = inputs[i].value;
        values[field.name] = field.kind === 'secret' ? value : value.trim();
      });
      act(() => api('POST', '/form', { values: values }), submit);
    });
    setScreen('form', [
      heading(tx('formTitle')),
      el('p', { class: 'muted', text: tx('formIntro') }),
      form,
      button('choose-another', tx('chooseAnother'), chooseAnother, 'link'),
    ]);
  }

  // 3b. Choice step: the bank offers several ways to confirm (embedded SCA methods)

  function showChoice() {
    const step = view.step;
    const options = Array.isArray(step.options) ? step.options : [];
    const radios = options.map((option, i) => el('input', {
      type: 'radio', id: 'choice-' + i, name: step.name, value: option.value, required: true,
      checked: i === 0, 'data-autofocus': i === 0,
    }));
    const submit = el('button', { type: 'submit', id: 'submit', class: 'primary', text: tx('continueStep') });
    const group = el('fieldset', { class: 'choices' }, [el('legend', { text: step.label || step.name })].concat(
      options.map((option, i) => el('label', { class: 'choice', for: 'choice-' + i }, [radios[i], el('span', { text: option.label || option.value })]))));
    const form = el('form', { id: 'choice-form', method: 'post', action: '#' }, [group, submit]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = radios.find((radio) => radio.checked);
      if (!chosen) return;
      act(() => api('POST', '/form', { values: { [step.name]: chosen.value } }), submit);
    });
    setScreen('choose', [
      heading(tx('formTitle')),
      el('p', { class: 'muted', text: tx('chooseIntro') }),
      form,
      button('choose-another', tx('chooseAnother'), chooseAnother, 'link'),
    ]);
  }

  // 3c. Waiting step: the owner approves in the bank's app (decoupled SCA)

  function showAppWait() {
    const step = view.step;
    const pace = Math.max(POLL_MS, Number(step.pollAfterMs) || 0);
    setScreen('app-wait', [
      el('div', { class: 'center' }, [
        spinner(),
        heading(tx('appTitle')),
        step.message ? el('p', { class: 'bank-message', id: 'bank-message', text: step.message }) : null,
        el('p', { class: 'muted', role: 'status', text: tx('appHint') }),
      ]),
      button('choose-another', tx('cancel'), chooseAnother, 'link'),
    ]);
    stepTimer = setTimeout(pollStep, pace);
  }

  async function pollStep() {
    stepTimer = null;
    if (busy) return;
    const asked = view;
    let fresh = null;
    try {
      fresh = await api('POST', '/poll');
    } catch (e) {
      fresh = null; // a passing failure: ask again at the same pace
    }
    if (view !== asked || busy) return;
    if (!fresh) {
      const pace = Math.max(POLL_MS, Number(view.step && view.step.pollAfterMs) || 0);
      stepTimer = setTimeout(pollStep, pace);
      return;
    }
    moveFocus = fresh.status !== 'in_progress';
    render(fresh);
  }

  // 4. Success

  function showSuccess() {
    if (!isWidget()) {
      returnToClient('success', 'icon-ok', tx('successTitle'));
      return;
    }
    setScreen('success', [
      el('div', { class: 'icon icon-ok', 'aria-hidden': 'true' }),
      heading(tx('successTitle')),
      el('p', { class: 'muted', text: tx('successText') }),
    ]);
    if (!posted.success && view.session) {
      posted.success = true;
      post('success', {
        target: view.session.target,
        sessionId: view.session.sessionId,
        sessionIdSignature: view.session.sessionIdSignature,
        commandId: view.session.commandId || null,
      });
    }
  }

  // 5. Failure

  function failureMessage(error) {
    const code = error && error.code;
    if (code === 'InvalidCredentials' || code === 'AccessBlocked') return tx(code);
    return (error && error.message) || tx('genericError');
  }

  function showFailure() {
    const error = view.error || {};
    if (!isWidget()) {
      returnToClient('failure', 'icon-fail', tx('failureTitle'), failureMessage(error));
      return;
    }
    setScreen('failure', [
      el('div', { class: 'icon icon-fail', 'aria-hidden': 'true' }),
      heading(tx('failureTitle')),
      el('p', { text: failureMessage(error) }),
      button('try-again', tx('tryAgain'), tryAgain),
    ]);
    if (!posted.error) {
      posted.error = true;
      post('error', {
        exception: error.code || 'Internal',
        message: error.message || '',
        target: (view.bank && view.bank.id) || null,
      });
    }
  }

  async function tryAgain() {
    if (busy) return;
    busy = true;
    showLoading();
    try {
      const fresh = await api('POST', '/retry');
      window.location.assign('/signin/s/' + encodeURIComponent(fresh.id));
    } catch (error) {
      busy = false;
      moveFocus = true;
      showFailure();
      showAlert(error.message || tx('genericError'));
    }
  }

  /** Redirection channel: a finished sign-in goes back to the client's redirect URI. */
  function returnToClient(screen, icon, title, message) {
    setScreen(screen, [
      el('div', { class: 'icon ' + icon, 'aria-hidden': 'true' }),
      heading(title),
      message ? el('p', { text: message }) : null,
      view.returnTo ? el('div', { class: 'center' }, [spinner(), el('p', { class: 'muted', role: 'status', text: tx('returning') })]) : null,
    ]);
    if (view.returnTo) window.location.assign(view.returnTo);
  }

  // ---- start ------------------------------------------------------------------------------

  closeButton.addEventListener('click', () => {
    if (!isWidget()) return;
    if (wait) {
      stopWaiting(true);
      showRedirect(false);
    }
    post('close');
  });

  if (!signInId) showGone({ status: 404 });
  else refresh();
})();
