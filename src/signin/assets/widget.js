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
          call(options.onSuccess, [data.target, data.sessionId, data.sessionIdSignature,
            { ownerExternalId: options.ownerExternalId, state: state }]);
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
