/* Acme Lending demo: embeds Aisle's sign-in, then imports through its own backend and shows
 * what came back. Everything is rendered with textContent. */
(function () {
  'use strict';

  const app = document.getElementById('app');
  const clientId = app.dataset.clientId;
  const statusBox = document.getElementById('status');
  const widgetBox = document.getElementById('widget');
  const resultBox = document.getElementById('result');
  const eventList = document.getElementById('events');
  const localeSelect = document.getElementById('locale');

  const STAGES = {
    queued: 'Waiting for the import to start…',
    accounts: 'Reading owners, accounts and cards…',
    history: 'Reading transactions…',
    storing: 'Saving your data…',
  };

  let widget = null;
  let run = 0; // bumps on every start, so late answers of an old run are dropped
  let pollTimer = null;
  let bankName = null; // from onTargetSelected, nicer than the command's bank id

  // ---- small DOM helpers ----

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([key, value]) => {
      if (value == null || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    });
    (children || []).forEach((child) => {
      if (child == null || child === false) return;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function logEvent(name, detail) {
    const time = new Date().toLocaleTimeString();
    const text = detail === undefined ? name : name + ' ' + JSON.stringify(detail);
    eventList.append(el('li', {}, [el('span', { class: 'time', text: time }), ' ' + text]));
  }

  /** kind: info | busy | ok | error; restart adds a "Start again" button. */
  function setStatus(kind, title, detail, restart) {
    clear(statusBox);
    statusBox.className = 'status status-' + kind;
    statusBox.hidden = false;
    if (kind === 'busy') statusBox.append(el('span', { class: 'spinner', 'aria-hidden': 'true' }));
    statusBox.append(el('div', { class: 'status-text' }, [
      el('strong', { text: title }),
      detail ? el('span', { text: detail }) : null,
    ]));
    if (restart) statusBox.append(el('button', { type: 'button', id: 'start-again', class: 'button', text: 'Start again', onclick: start }));
  }

  // ---- the widget ----

  function removeWidget() {
    if (widget) widget.remove();
    widget = null;
  }

  function start() {
    run += 1;
    clearTimeout(pollTimer);
    removeWidget();
    clear(resultBox);
    resultBox.hidden = true;
    statusBox.hidden = true;
    bankName = null;
    if (!window.Aisle || typeof window.Aisle.embed !== 'function') {
      setStatus('error', 'The bank sign-in could not be loaded.', 'Is Aisle running at ' + app.dataset.aisleUrl + '?', true);
      return;
    }
    const thisRun = run;
    try {
      widget = window.Aisle.embed({
        client: clientId,
        divId: 'widget',
        ownerExternalId: 'demo-owner',
        locale: localeSelect.value || undefined,
        onStarted: () => logEvent('onStarted'),
        onTargetSelected: (options) => {
          logEvent('onTargetSelected', options);
          bankName = options?.name || null;
          statusBox.hidden = true;
        },
        onUnsupportedTarget: (options) => {
          logEvent('onUnsupportedTarget', options);
          setStatus('info', 'Sorry, we cannot connect to that bank yet.', 'You can upload statements instead (not in this demo).');
        },
        onSuccess: (target, sessionId, sessionIdSignature, options) => {
          logEvent('onSuccess', { target: target, sessionId: sessionId, state: options && options.state });
          if (thisRun === run) importData(sessionId, sessionIdSignature);
        },
        onError: (exception, options) => {
          logEvent('onError', { exception: exception, message: options && options.message });
          setStatus('error', 'The sign-in failed (' + exception + ')', options && options.message, true);
        },
        onClose: () => {
          logEvent('onClose');
          removeWidget();
          setStatus('info', 'You closed the sign-in', 'Connect your bank whenever you are ready.', true);
        },
      });
    } catch (error) {
      setStatus('error', 'The bank sign-in could not start.', error.message, true);
    }
  }

  // ---- the import, through Acme's backend ----

  async function readJson(response) {
    try {
      return await response.json();
    } catch (e) {
      return null;
    }
  }

  function problemText(body, response) {
    const code = body?.code || 'HTTP ' + response.status;
    return [code, body?.detail || body?.title || response.statusText || ''];
  }

  async function importData(sessionId, sessionIdSignature) {
    const thisRun = run;
    removeWidget();
    setStatus('busy', 'Connected. Importing your accounts…', 'Starting the import.');
    let response;
    let body;
    try {
      response = await fetch('/demo/api/imports', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ sessionId: sessionId, sessionIdSignature: sessionIdSignature }),
      });
      body = await readJson(response);
    } catch (error) {
      if (thisRun === run) setStatus('error', 'The import could not start.', error.message, true);
      return;
    }
    if (thisRun !== run) return;
    if (!response.ok || !body?.commandId) {
      const [code, detail] = problemText(body, response);
      setStatus('error', 'The import could not start (' + code + ')', detail, true);
      return;
    }
    logEvent('import started', { commandId: body.commandId });
    poll(body.commandId, thisRun, 0);
  }

  function schedule(commandId, thisRun, failures) {
    pollTimer = setTimeout(() => poll(commandId, thisRun, failures), 1000);
  }

  async function poll(commandId, thisRun, failures) {
    if (thisRun !== run) return;
    let response;
    let body;
    try {
      response = await fetch('/demo/api/imports/' + encodeURIComponent(commandId), {
        headers: { Accept: 'application/json' },
        cache: 'no-store',
      });
      body = await readJson(response);
    } catch (error) {
      if (thisRun !== run) return;
      if (failures >= 4) setStatus('error', 'Lost contact with the server.', error.message, true);
      else schedule(commandId, thisRun, failures + 1);
      return;
    }
    if (thisRun !== run) return;
    if (!response.ok || !body) {
      const [code, detail] = problemText(body, response);
      setStatus('error', 'The import could not be read (' + code + ')', detail, true);
      return;
    }
    if (body.state === 'successful') {
      setStatus('ok', 'Done: your data from ' + (bankName || body.bank || 'your bank') + ' is here.', 'Thank you. We will decide on your application shortly.');
      showResult(body);
    } else if (body.state === 'error') {
      setStatus('error', 'The import failed (' + (body.error?.code || 'unknown') + ')', body.error?.detail, true);
      showResult(body);
    } else {
      setStatus('busy', 'Importing your accounts…', progressText(body.progress));
      schedule(commandId, thisRun, 0);
    }
  }

  function progressText(progress) {
    const stage = progress?.stage;
    let text = STAGES[stage] || (stage ? 'Working (' + stage + ')…' : 'Working…');
    if (stage === 'history' && progress.windowsTotal > 0) {
      text += ' ' + (progress.windowsDone || 0) + ' of ' + progress.windowsTotal;
    }
    return text;
  }

  // ---- the summary ----

  function maskIban(iban) {
    const plain = String(iban).replace(/\s+/g, '');
    if (plain.length <= 4) return plain;
    const masked = '•'.repeat(plain.length - 4) + plain.slice(-4);
    // Groups of four counted from the end, so the visible four stay together.
    return masked.replace(/(?=(?:.{4})+$)/g, ' ').trim();
  }

  function money(amount, currency) {
    if (amount == null || amount === '') return '—';
    return String(amount) + (currency ? ' ' + currency : '');
  }

  const BOOKED_TYPES = ['closingBooked', 'interimBooked', 'openingBooked', 'booked'];

  /** {amount, currency, type} of the booked balance; balances are a list of {type, amount,
   * currency} or an object {booked, available}. */
  function bookedBalance(account) {
    const balances = account?.balances;
    if (Array.isArray(balances)) {
      for (const type of BOOKED_TYPES) {
        const found = balances.find((b) => b?.type === type);
        if (found) return found;
      }
      return balances.find((b) => /booked/i.test(b?.type || '')) || null;
    }
    const booked = balances?.booked;
    if (booked == null) return null;
    return typeof booked === 'object' ? booked : { amount: booked, currency: account.currency };
  }

  function newestBooked(account, count) {
    const rows = Array.isArray(account?.transactions?.booked) ? account.transactions.booked.slice() : [];
    const day = (row) => row?.bookingDate || row?.valueDate || row?.transactionDate || '';
    rows.sort((a, b) => (day(a) < day(b) ? 1 : day(a) > day(b) ? -1 : 0));
    return rows.slice(0, count);
  }

  function definition(term, value) {
    return [el('dt', { text: term }), el('dd', { text: value })];
  }

  function accountCard(account) {
    const balance = bookedBalance(account);
    const booked = account?.transactions?.booked;
    const identifier = account?.iban ? maskIban(account.iban)
      : account?.bban ? maskIban(account.bban)
        : account?.maskedPan || account?.bankAccountId || '—';
    return el('li', { class: 'card' }, [
      el('h3', { text: account?.name || account?.product || 'Account' }),
      el('p', { class: 'iban', text: identifier }),
      el('dl', {}, [].concat(
        definition('Currency', account?.currency || '—'),
        definition('Booked balance', balance ? money(balance.amount, balance.currency || account?.currency) : '—'),
        definition('Booked transactions', Array.isArray(booked) ? String(booked.length) : '—'),
      )),
    ]);
  }

  function transactionTable(account) {
    const rows = newestBooked(account, 10);
    if (!rows.length) return el('p', { class: 'muted', text: 'No booked transactions.' });
    return el('table', { class: 'transactions' }, [
      el('thead', {}, [el('tr', {}, [
        el('th', { scope: 'col', text: 'Date' }),
        el('th', { scope: 'col', text: 'Description' }),
        el('th', { scope: 'col', class: 'amount', text: 'Amount' }),
      ])]),
      el('tbody', {}, rows.map((row) => {
        const main = row?.description || row?.counterpartyName || row?.merchantName || '—';
        const sub = row?.description && row?.counterpartyName ? row.counterpartyName : null;
        const negative = String(row?.amount ?? '').trim().startsWith('-');
        return el('tr', {}, [
          el('td', { class: 'date', text: row?.bookingDate || row?.valueDate || '—' }),
          el('td', {}, [el('span', { text: main }), sub ? el('span', { class: 'sub', text: sub }) : null]),
          el('td', { class: 'amount' + (negative ? '' : ' credit'), text: money(row?.amount, row?.currency || account?.currency) }),
        ]);
      })),
    ]);
  }

  function showResult(command) {
    clear(resultBox);
    const result = command?.result;
    if (result) {
      const owners = Array.isArray(result.owners) ? result.owners.map((o) => o?.name).filter(Boolean) : [];
      const accounts = Array.isArray(result.accounts) ? result.accounts : [];
      const cards = Array.isArray(result.cards) ? result.cards : [];
      resultBox.append(
        el('h2', { text: 'What we received' }),
        el('p', {}, [el('strong', { text: owners.length > 1 ? 'Owners: ' : 'Owner: ' }), owners.join(', ') || '—']),
        el('h3', { class: 'section', text: accounts.length === 1 ? '1 account' : accounts.length + ' accounts' }),
        accounts.length ? el('ul', { class: 'cards' }, accounts.map(accountCard)) : el('p', { class: 'muted', text: 'No accounts.' }),
      );
      if (cards.length) {
        resultBox.append(
          el('h3', { class: 'section', text: cards.length === 1 ? '1 card' : cards.length + ' cards' }),
          el('ul', { class: 'plain' }, cards.map((card) => el('li', {
            text: [card?.name || 'Card', card?.maskedPan, card?.currency].filter(Boolean).join(' · '),
          }))),
        );
      }
      if (accounts.length) {
        resultBox.append(
          el('h3', { class: 'section', text: 'Latest transactions' + (accounts[0]?.name ? ' · ' + accounts[0].name : '') }),
          transactionTable(accounts[0]),
        );
      }
    }
    const raw = el('pre', { text: JSON.stringify(command, null, 2) });
    resultBox.append(el('details', { class: 'raw' }, [el('summary', { text: 'Raw JSON' }), raw]));
    resultBox.append(el('button', { type: 'button', class: 'button secondary', text: 'Start again', onclick: start }));
    resultBox.hidden = false;
  }

  // ---- webhooks the demo's backend received ----

  const webhookPanel = document.getElementById('webhooks-panel');
  const webhookList = document.getElementById('webhooks');

  function webhookText(received) {
    const payload = received.payload || {};
    const data = payload.data || {};
    const facts = [data.bank, data.commandId && 'command ' + data.commandId, data.errorCode]
      .filter(Boolean).join(' · ');
    return (payload.type || 'unknown event') + (facts ? ' — ' + facts : '');
  }

  async function pollWebhooks() {
    let received;
    try {
      const response = await fetch('/demo/api/webhooks', { cache: 'no-store' });
      if (response.status === 404) return; // this demo runs without a webhook receiver
      received = response.ok ? await response.json() : null;
    } catch (e) {
      received = null;
    }
    if (Array.isArray(received)) {
      webhookPanel.hidden = false;
      clear(webhookList);
      received.forEach((item) => {
        const time = new Date(item.receivedAt).toLocaleTimeString();
        const check = item.verified ? 'signature verified' : 'signature INVALID, refused';
        webhookList.append(el('li', { class: item.verified ? null : 'invalid' }, [
          el('span', { class: 'time', text: time }),
          ' ' + webhookText(item) + ' ',
          el('span', { class: 'muted', text: '(' + check + ')' }),
        ]));
      });
    }
    setTimeout(pollWebhooks, 2000);
  }

  localeSelect.addEventListener('change', start);
  start();
  pollWebhooks();
})();
