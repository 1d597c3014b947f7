// The console's key sign-in (resolver/http/console/keysignin.py): signs the page's challenge text with
// the private key file the user picks (PKCS#8 PEM, RSA), in this browser, with WebCrypto
// (RSASSA-PKCS1-v1_5, SHA-256), and posts only the signature. The key is never sent: the file input
// has no name and lies outside the form.
"use strict";

(function () {
  const box = document.getElementById("keysignin");
  const form = document.getElementById("keyform");
  if (!box || !form) return;
  const errorLine = document.getElementById("keyerror");

  function fail(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
  }

  function pemBody(pem) {
    const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
    if (!m) return null;
    const bin = atob(m[1].replace(/\s+/g, ""));
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    return der;
  }

  function base64(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  form.addEventListener("submit", async function (event) {
    if (document.getElementById("signature").value) return; // signed: let it go
    event.preventDefault();
    errorLine.hidden = true;
    if (!window.crypto || !window.crypto.subtle) {
      fail(box.dataset.noCrypto);
      return;
    }
    const file = document.getElementById("keyfile").files[0];
    if (!file) {
      fail(box.dataset.noFile);
      return;
    }
    try {
      const der = pemBody(await file.text());
      if (!der) throw new Error("not a PKCS#8 PEM");
      const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
      const key = await crypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
      const signed = await crypto.subtle.sign(algorithm, key, new TextEncoder().encode(box.dataset.message));
      document.getElementById("signature").value = base64(signed);
    } catch (e) {
      fail(box.dataset.badKey);
      return;
    }
    form.submit();
  });
})();
