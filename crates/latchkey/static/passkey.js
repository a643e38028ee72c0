// Passkeys: "Add a passkey" on the Passkeys page and "Sign in with a
// passkey" on the sign-in page. Each asks the server for WebAuthn options
// (JSON, base64url for binary values), hands them to the browser
// (navigator.credentials), and posts the browser's answer back; the server
// checks everything. Without this script, or without WebAuthn in the
// browser, the buttons stay disabled and the page says why.
"use strict";

(function () {
  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Drops null members, which the browser's dictionaries refuse.
  function withoutNulls(value) {
    if (Array.isArray(value)) {
      return value.map(withoutNulls);
    }
    if (value && typeof value === "object" && !(value instanceof ArrayBuffer)) {
      var copy = {};
      Object.keys(value).forEach(function (key) {
        if (value[key] !== null && value[key] !== undefined) {
          copy[key] = withoutNulls(value[key]);
        }
      });
      return copy;
    }
    return value;
  }

  function decodeCredentials(list) {
    return (list || []).map(function (credential) {
      credential.id = toBytes(credential.id);
      return credential;
    });
  }

  function creationOptions(options) {
    var publicKey = withoutNulls(options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    publicKey.user.id = toBytes(publicKey.user.id);
    publicKey.excludeCredentials = decodeCredentials(publicKey.excludeCredentials);
    return { publicKey: publicKey };
  }

  function requestOptions(options) {
    var publicKey = withoutNulls(options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    publicKey.allowCredentials = decodeCredentials(publicKey.allowCredentials);
    return { publicKey: publicKey };
  }

  function registrationJson(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        attestationObject: toBase64url(credential.response.attestationObject),
        clientDataJSON: toBase64url(credential.response.clientDataJSON),
        transports: credential.response.getTransports ? credential.response.getTransports() : null
      }
    };
  }

  function assertionJson(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        authenticatorData: toBase64url(credential.response.authenticatorData),
        clientDataJSON: toBase64url(credential.response.clientDataJSON),
        signature: toBase64url(credential.response.signature),
        userHandle: toBase64url(credential.response.userHandle)
      }
    };
  }

  // POSTs JSON with the page's CSRF token; resolves to the JSON answer or
  // rejects with the server's description.
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(
        function (json) {
          if (!response.ok) {
            throw new Error(json.error_description || "The server refused the request.");
          }
          return json;
        },
        function () {
          throw new Error("The server did not answer as expected. Try again.");
        }
      );
    });
  }

  // What a failure means, in plain words.
  function explain(error) {
    switch (error && error.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or timed out. Try again when you are ready.";
      case "InvalidStateError":
        return "This device already has a passkey for your account.";
      case "SecurityError":
        return "This site's address does not allow passkeys here.";
      case "NotSupportedError":
        return "This device cannot make a passkey of the kind this site needs.";
      case "TypeError":
        return "Something went wrong (" + error.message + "). Check your connection and try again.";
      default:
        return (error && error.message) || "Something went wrong. Try again.";
    }
  }

  function setUp(container, run) {
    var button = container.querySelector("[data-passkey-start]");
    var note = container.querySelector("[data-passkey-note]");
    var errorBox = container.querySelector("[data-passkey-error]");
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
      note.textContent = "This browser does not support passkeys. Use an up-to-date browser to use one.";
      return;
    }
    note.hidden = true;
    button.disabled = false;
    button.addEventListener("click", function () {
      errorBox.hidden = true;
      button.disabled = true;
      run(container).then(
        function (answer) {
          window.location.assign(answer.redirect);
        },
        function (error) {
          errorBox.textContent = explain(error);
          errorBox.hidden = false;
          button.disabled = false;
        }
      );
    });
  }

  function addPasskey(container) {
    var csrf = container.getAttribute("data-csrf");
    var name = container.querySelector("input[name=name]");
    return post(container.getAttribute("data-begin"), csrf)
      .then(function (options) {
        return navigator.credentials.create(creationOptions(options));
      })
      .then(function (credential) {
        return post(container.getAttribute("data-finish"), csrf, {
          credential: registrationJson(credential),
          name: name ? name.value : null
        });
      });
  }

  function signIn(container) {
    var csrf = container.getAttribute("data-csrf");
    return post(container.getAttribute("data-begin"), csrf)
      .then(function (options) {
        return navigator.credentials.get(requestOptions(options));
      })
      .then(function (credential) {
        return post(container.getAttribute("data-finish"), csrf, {
          credential: assertionJson(credential),
          return_to: container.getAttribute("data-return-to")
        });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var add = document.querySelector("[data-passkey-add]");
    if (add) {
      setUp(add, addPasskey);
    }
    var signInBox = document.querySelector("[data-passkey-sign-in]");
    if (signInBox) {
      setUp(signInBox, signIn);
    }
  });
})();
