/* Gongkai staff console: confirmations, the editor's live preview and the item page's
   live timeline. Plain JavaScript, no build step; every page also works without it. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  /* Forms with data-confirm ask first (delegated, so re-rendered forms work too). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formtarget")) return; // previews need no question
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  /* Tabs: click or arrow keys switch panels (WAI-ARIA tabs pattern). */
  function setupTabs(list, onShow) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll('[role="tab"]'));
    function show(tab, focus) {
      tabs.forEach(function (other) {
        var selected = other === tab;
        other.setAttribute("aria-selected", selected ? "true" : "false");
        other.tabIndex = selected ? 0 : -1;
        document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
      });
      if (focus) tab.focus();
      onShow(tab.id);
    }
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { show(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        if (event.key === "Home") next = tabs[0];
        if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) { event.preventDefault(); show(next, true); }
      });
    });
  }

  /* The item editor: previews follow the text as it is typed. */
  function setupEditor(form) {
    var status = document.getElementById("preview-status");
    var problems = document.getElementById("preview-problems");
    var pdfButton = document.getElementById("preview-pdf");
    var wechat = document.getElementById("preview-wechat");
    var website = document.getElementById("preview-website");
    var current = "tab-wechat";
    var pdfStale = true;
    var seq = 0;

    function showProblems(errors) {
      problems.textContent = "";
      Object.keys(errors || {}).forEach(function (field) {
        var li = document.createElement("li");
        var label = document.querySelector('label[for="f-' + field + '"]');
        var name = label ? label.textContent.replace("*", "").trim() : "";
        li.textContent = (name ? name + "：" : "") + errors[field];
        problems.appendChild(li);
      });
    }

    function showDropped(notes) {
      var box = document.getElementById("preview-dropped");
      var list = document.getElementById("preview-dropped-list");
      list.textContent = "";
      (notes || []).forEach(function (note) {
        var li = document.createElement("li");
        li.textContent = note;
        list.appendChild(li);
      });
      box.hidden = !list.children.length;
    }

    function refresh() {
      var mine = ++seq;
      status.textContent = "正在更新…";
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {
          "X-CSRF-Token": csrfToken(),
          "X-Requested-With": "XMLHttpRequest",
          "Accept": "application/json"
        }
      }).then(function (response) {
        if (response.status === 401) throw new Error("登录已过期，请先保存草稿内容到别处，再刷新页面重新登录");
        if (!response.ok) throw new Error("预览暂时无法更新（" + response.status + "）");
        return response.json();
      }).then(function (data) {
        if (mine !== seq) return;
        wechat.srcdoc = data.wechat;
        website.srcdoc = data.website;
        showProblems(data.errors);
        showDropped(data.dropped_images);
        status.textContent = "已更新";
      }).catch(function (error) {
        if (mine === seq) status.textContent = error.message;
      });
    }

    function refreshPdf() {
      pdfStale = false;
      if (form.requestSubmit) form.requestSubmit(pdfButton); else pdfButton.click();
    }

    var later = debounce(refresh, 600);
    var pdfLater = debounce(function () { if (current === "tab-print") refreshPdf(); }, 2000);
    form.addEventListener("input", function () { later(); pdfStale = true; pdfLater(); });
    form.addEventListener("change", function () { later(); pdfStale = true; pdfLater(); });
    setupTabs(document.querySelector('.preview [role="tablist"]'), function (id) {
      current = id;
      if (id === "tab-print" && pdfStale) refreshPdf();
    });
  }

  /* The item page: poll the live endpoint every 3 s and re-render the timeline. */
  function setupLive(section) {
    var url = section.getAttribute("data-live-url");
    var note = document.getElementById("live-note");
    var last = section.innerHTML;
    var timer = null;
    var quiet = 0;

    function schedule() { timer = setTimeout(poll, 3000); }

    function poll() {
      if (document.hidden) { schedule(); return; }
      fetch(url, {
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Requested-With": "XMLHttpRequest" }
      }).then(function (response) {
        if (response.status === 401) throw new Error("登录已过期，请刷新页面重新登录");
        if (!response.ok) throw new Error("暂时无法获取最新进度，稍后自动重试");
        return response.json();
      }).then(function (data) {
        if (data.status !== section.getAttribute("data-status")) {
          var active = document.activeElement;
          var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.value;
          if (!typing) { window.location.reload(); return; } // reviewed, cancelled…: whole page
          note.textContent = "信息状态已改变，请刷新页面查看";
        }
        if (data.html !== last) {
          var focused = document.activeElement && section.contains(document.activeElement)
            ? document.activeElement.closest("[id]") : null;
          var keep = focused ? focused.id : null;
          section.innerHTML = data.html;
          last = data.html;
          if (keep && document.getElementById(keep)) document.getElementById(keep).focus();
        }
        var time = new Date().toLocaleTimeString("zh-CN", { hour12: false });
        note.textContent = data.settled ? "发布已结束 · " + time : "自动刷新中 · 最后更新 " + time;
        quiet = data.settled ? quiet + 1 : 0;
        if (quiet < 3) schedule(); // settled: a few more looks, then stop
      }).catch(function (error) {
        note.textContent = error.message;
        if (error.message.indexOf("登录") === -1) schedule();
      });
    }
    if (timer === null) schedule();
  }

  /* A length counter (微信标题) against the account's limit, counted as WeChat counts. */
  function setupCounter(input) {
    var limit = parseInt(input.getAttribute("data-count-limit"), 10);
    var bytes = input.getAttribute("data-count-unit") === "bytes";
    var unit = bytes ? "字节" : "个字符";
    var out = document.getElementById(input.getAttribute("aria-describedby").split(" ")[0]);
    function update() {
      var text = input.value.trim().replace(/\s+/g, " ");
      var length = bytes ? new TextEncoder().encode(text).length : Array.from(text).length;
      out.textContent = "已用 " + length + " / " + limit + " " + unit +
        (length > limit ? "，超出 " + (length - limit) + " " + unit + "，请缩短" : "");
    }
    input.addEventListener("input", update);
  }

  var form = document.getElementById("item-form");
  if (form && form.getAttribute("data-preview-url")) setupEditor(form);
  Array.prototype.forEach.call(document.querySelectorAll("input[data-count-limit]"), setupCounter);
  var timeline = document.getElementById("timeline");
  if (timeline && timeline.getAttribute("data-live-url")) setupLive(timeline);
})();
