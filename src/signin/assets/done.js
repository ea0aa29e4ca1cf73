/* Where the bank popup lands: tells the sign-in frame (the opener, same origin) and closes. */
(function () {
  'use strict';

  const TEXTS = {
    en: 'You can close this window and return to the site.',
    de: 'Sie können dieses Fenster schließen und zur Website zurückkehren.',
    pl: 'Możesz zamknąć to okno i wrócić do strony.',
  };

  function showMessage() {
    const lang = String(navigator.language || 'en').slice(0, 2).toLowerCase();
    const message = document.getElementById('done-message');
    if (TEXTS[lang]) {
      document.documentElement.lang = lang;
      message.textContent = TEXTS[lang];
    }
    document.getElementById('done-spinner').hidden = true;
    message.hidden = false;
  }

  let told = false;
  try {
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage({ type: 'aisle:popup-done' }, window.location.origin);
      told = true;
    }
  } catch (e) {
    told = false;
  }
  if (told) {
    window.close();
    // Still here: the browser did not let the page close itself.
    setTimeout(showMessage, 500);
  } else {
    showMessage();
  }
})();
