// The PIN window. It is an extension page: the web page that asked cannot read or script it.
// It shows who asks (the origin the browser reported) and whose card it is, and hands the
// PIN to the service worker once.
(() => {
  "use strict";
  const api = globalThis.browser ?? globalThis.chrome;
  const id = window.location.hash.slice(1);
  const TEXTS = {
    ja: {
      title: "医師資格証の PIN",
      authenticate: "次のサイトが、医師資格証による本人確認（ログイン）を求めています。",
      sign: "次のサイトが、医師資格証による電子署名を求めています。",
      origin: "サイト", holder: "カードの名義", pin: "PIN（暗証番号）",
      pinpad: "カードリーダーのキーパッドで PIN を入力してください。",
      low: "PIN の残り試行回数が少なくなっています。間違えるとカードがロックされます。",
      final: "次に PIN を間違えるとカードがロックされます。",
      ok: "OK", cancel: "キャンセル", unknown: "この要求は終了しました。"
    },
    en: {
      title: "Card PIN",
      authenticate: "This site asks to identify you (sign in) with your doctor card.",
      sign: "This site asks for an electronic signature with your doctor card.",
      origin: "Site", holder: "Card holder", pin: "PIN",
      pinpad: "Enter the PIN on the card reader's keypad.",
      low: "Few PIN tries are left. Wrong PINs will lock the card.",
      final: "One more wrong PIN locks the card.",
      ok: "OK", cancel: "Cancel", unknown: "This request has ended."
    }
  };
  const $ = (x) => document.getElementById(x);

  function show(info) {
    const lang = info && info.lang && info.lang.startsWith("en") ? "en" : "ja";
    const t = TEXTS[lang];
    document.documentElement.lang = lang;
    document.title = t.title;
    $("title").textContent = t.title;
    $("ok").textContent = t.ok;
    $("cancel").textContent = t.cancel;
    if (!info) { $("request").textContent = t.unknown; $("pin-form").hidden = true; return; }
    $("request").textContent = info.purpose === "sign" ? t.sign : t.authenticate;
    $("origin-label").textContent = t.origin;
    $("origin").textContent = info.origin;
    $("holder-label").textContent = t.holder;
    $("holder").textContent = [info.holder, info.holderLatin].filter(Boolean).join(" / ");
    $("pin-label").textContent = t.pin;
    if (info.pinFinalTry || info.pinCountLow) {
      $("warning").textContent = info.pinFinalTry ? t.final : t.low;
      $("warning").hidden = false;
    }
    if (info.protectedAuthPath) {
      $("pin-row").hidden = true;
      $("pin").required = false;
      $("pinpad").textContent = t.pinpad;
      $("pinpad").hidden = false;
      $("ok").focus();
    } else {
      $("pin").focus();
    }
  }

  function answer(message) {
    return api.runtime.sendMessage(Object.assign({ id }, message)).finally(() => window.close());
  }

  $("pin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const pin = $("pin").value;
    $("pin").value = "";
    answer({ kind: "prompt-answer", pin });
  });
  $("cancel").addEventListener("click", () => answer({ kind: "prompt-answer", cancel: true }));
  api.runtime.sendMessage({ kind: "prompt-info", id }).then(show, () => show(null));
})();
