/* Where the bank popup lands: hands the sign-in frame (the opener) the one-time completion
 * code, if this window finished the sign-in, and closes. The code goes to Aisle's own origin
 * only: an opener on any other site (a page that opened a forwarded bank link) never gets it,
 * nor does a browser without the frame's window, so the frame that started the sign-in gets
 * its session only when this very window went through the bank. */
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
      const main = document.querySelector('main');
      const completion = (main && main.dataset.completion) || null;
      window.opener.postMessage({ type: 'aisle:popup-done', completion: completion }, window.location.origin);
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
