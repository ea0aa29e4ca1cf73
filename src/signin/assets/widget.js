/* Aisle sign-in widget loader: `Aisle.embed(options)` puts the bank sign-in in an iframe on
 * the client's page and turns the frame's messages into the client's callbacks. */
(function () {
  'use strict';

  // Captured at load time: document.currentScript is null once this script has run.
  const script = document.currentScript;
  const aisleOrigin = script && script.src ? new URL(script.src).origin : null;

  const OPTIONAL_PARAMS = ['country', 'locale', 'bank', 'maxImportDate'];

  function randomState() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function call(callback, args) {
    if (typeof callback !== 'function') return;
    try {
      callback.apply(null, args);
    } catch (e) {
      // A failing client callback must not stop the widget.
      setTimeout(() => { throw e; });
    }
  }

  function embed(options) {
    if (!options || typeof options !== 'object') throw new Error('Aisle.embed: options are required');
    if (!aisleOrigin) throw new Error('Aisle.embed: load widget.js with a <script src="…/widget.js"> tag');
    if (!options.client) throw new Error('Aisle.embed: options.client (your client id) is required');
    if (!options.divId) throw new Error('Aisle.embed: options.divId is required');
    if (!options.ownerExternalId) throw new Error('Aisle.embed: options.ownerExternalId is required');
    const container = document.getElementById(options.divId);
    if (!container) throw new Error('Aisle.embed: no element with id "' + options.divId + '"');

    const state = randomState();
    const params = new URLSearchParams({
      client: String(options.client),
      origin: window.location.origin,
      state: state,
      ownerExternalId: String(options.ownerExternalId),
    });
    OPTIONAL_PARAMS.forEach((name) => {
      if (options[name] != null && options[name] !== '') params.set(name, String(options[name]));
    });
    if (options.forceSca === true) params.set('forceSca', 'true');
    // autoImport: false turns the client's auto import off for this sign-in; {months: N}
    // changes its months where the client has it on (only the client's setting, or a
    // redirection from its backend, turns it on).
    if (options.autoImport === false) params.set('autoImport', 'off');
    else if (options.autoImport && typeof options.autoImport === 'object') {
      const months = Number(options.autoImport.months);
      if (!Number.isInteger(months) || months < 1 || months > 120) {
        throw new Error('Aisle.embed: autoImport.months must be a whole number from 1 to 120');
      }
      params.set('autoImport', String(months));
    } else if (options.autoImport != null && options.autoImport !== true) {
      throw new Error('Aisle.embed: autoImport must be false, true or {months: N}');
    }

    const iframe = document.createElement('iframe');
    iframe.src = aisleOrigin + '/signin/widget?' + params.toString();
    iframe.title = 'Bank sign-in';
    iframe.style.width = '100%';
    iframe.style.height = '600px';
    iframe.style.border = '0';
    iframe.style.display = 'block';

    function onMessage(event) {
      const data = event.data;
      if (event.origin !== aisleOrigin || event.source !== iframe.contentWindow) return;
      if (!data || data.source !== 'aisle' || data.state !== state) return;
      switch (data.event) {
        case 'started':
          call(options.onStarted, []);
          break;
        case 'targetSelected':
          call(options.onTargetSelected, [{ target: data.target, name: data.name }]);
          break;
        case 'unsupportedTarget':
          call(options.onUnsupportedTarget, [{ target: data.target == null ? null : data.target, country: data.country }]);
          break;
        case 'success':
          // commandId: the import Aisle started by itself (auto import), else null.
          call(options.onSuccess, [data.target, data.sessionId, data.sessionIdSignature,
            { ownerExternalId: options.ownerExternalId, state: state, commandId: data.commandId || null }]);
          break;
        case 'error':
          call(options.onError, [data.exception, { message: data.message, target: data.target, state: state }]);
          break;
        case 'close':
          call(options.onClose, []);
          break;
        case 'resize': {
          const height = Number(data.height);
          if (height > 0 && isFinite(height)) iframe.style.height = Math.ceil(height) + 'px';
          break;
        }
        default:
          break;
      }
    }

    window.addEventListener('message', onMessage);
    container.appendChild(iframe);

    let removed = false;
    return {
      remove() {
        if (removed) return;
        removed = true;
        window.removeEventListener('message', onMessage);
        iframe.remove();
      },
    };
  }

  window.Aisle = { embed: embed };
})();

/* ---- Kontomatik compatibility (issue 17) ------------------------------------------------
 * `embedKontomatik(options)` and `embedKontomatikPopup(options)` take Kontomatik's option and
 * callback names, so a page written for Kontomatik's widget changes only its script URL.
 * Options: `target` is Aisle's `bank`; `divId` defaults to "kontomatik"; `autoImport`,
 * `styles` and `dynamicHeight` are accepted and ignored (the frame always fits its content).
 * Callbacks: onInitialized (the frame is up), onTargetSelected(payload), onStarted (the owner
 * begins signing in at the chosen bank), onSuccess(target, sessionId, sessionIdSignature,
 * options), onError(exception, {target, sessionId, message}), onUnsupportedTarget({target,
 * country, address}), onUnloaded (the widget was removed). onCredentialEntered is never
 * called: credentials are entered at the bank, not in Aisle's frame. The popup variant shows
 * the same frame in a dialog over the page, removed when the sign-in ends. */
(function () {
  'use strict';

  const PASSED = ['client', 'ownerExternalId', 'locale', 'country', 'maxImportDate', 'forceSca'];

  function call(callback, args) {
    if (typeof callback !== 'function') return;
    try {
      callback.apply(null, args);
    } catch (e) {
      setTimeout(() => { throw e; });
    }
  }

  function translate(options, divId, onEnd) {
    const aisle = { divId: divId };
    PASSED.forEach((name) => {
      if (options[name] != null) aisle[name] = options[name];
    });
    if (options.target != null && options.target !== '') aisle.bank = options.target;
    aisle.onStarted = () => call(options.onInitialized, []);
    aisle.onTargetSelected = (payload) => {
      call(options.onTargetSelected, [payload]);
      call(options.onStarted, []);
    };
    aisle.onUnsupportedTarget = (payload) => call(options.onUnsupportedTarget,
      [{ target: payload.target, country: payload.country, address: null }]);
    aisle.onSuccess = (target, sessionId, sessionIdSignature, extra) => {
      call(options.onSuccess, [target, sessionId, sessionIdSignature, extra]);
      onEnd();
    };
    aisle.onError = (exception, extra) => {
      call(options.onError, [exception, { target: extra.target, sessionId: null, message: extra.message }]);
      onEnd();
    };
    aisle.onClose = onEnd;
    return aisle;
  }

  function withUnload(widget, options) {
    let removed = false;
    return {
      remove() {
        if (removed) return;
        removed = true;
        widget.remove();
        call(options.onUnloaded, []);
      },
    };
  }

  function embedKontomatik(options) {
    if (!options || typeof options !== 'object') throw new Error('embedKontomatik: options are required');
    const divId = options.divId || 'kontomatik';
    const widget = window.Aisle.embed(translate(options, divId, () => {}));
    return withUnload(widget, options);
  }

  function embedKontomatikPopup(options) {
    if (!options || typeof options !== 'object') throw new Error('embedKontomatikPopup: options are required');
    const overlay = document.createElement('div');
    overlay.id = 'aisle-popup-' + Math.random().toString(36).slice(2);
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.45);' +
      'display:flex;align-items:center;justify-content:center;padding:16px;';
    const box = document.createElement('div');
    box.id = overlay.id + '-frame';
    box.style.cssText = 'width:100%;max-width:480px;max-height:100%;overflow:auto;background:#fff;border-radius:8px;';
    overlay.appendChild(box);
    document.body.appendChild(overlay);
    let handle = null;
    const end = () => {
      // After the callbacks ran: the page sees the outcome before the dialog goes.
      setTimeout(() => { if (handle) handle.remove(); }, 0);
    };
    let widget;
    try {
      widget = window.Aisle.embed(translate(options, box.id, end));
    } catch (e) {
      overlay.remove();
      throw e;
    }
    handle = withUnload({
      remove() {
        widget.remove();
        overlay.remove();
      },
    }, options);
    return handle;
  }

  window.embedKontomatik = embedKontomatik;
  window.embedKontomatikPopup = embedKontomatikPopup;
})();
