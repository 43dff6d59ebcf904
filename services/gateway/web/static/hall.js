// 网上办事大厅: a little plain JavaScript. Every page works without it; with it, files upload
// as soon as they are chosen (with progress) and the checklist shows what is still missing.
(function () {
  "use strict";

  function csrfOf(form) {
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function refreshChecklist(form) {
    var list = form.querySelector(".checklist");
    if (!list) { return; }
    var missing = [];
    form.querySelectorAll(".material").forEach(function (box) {
      var name = box.getAttribute("data-material");
      var kind = box.getAttribute("data-kind");
      var filled = kind === "form"
        ? box.querySelector("textarea").value.trim() !== ""
        : kind === "file" ? box.querySelector("input[type=hidden]").value !== "" : true;
      list.querySelectorAll("li").forEach(function (item) {
        if (item.getAttribute("data-for") !== name) { return; }
        item.className = filled ? "done" : "missing";
        item.querySelector(".mark").textContent = filled ? "✓ 已备齐" : "✗ 尚缺";
      });
      if (!filled && box.getAttribute("data-required") === "yes") { missing.push(name); }
    });
    var summary = form.querySelector("#missing-summary");
    if (summary) {
      summary.textContent = missing.length
        ? "还缺 " + missing.length + " 项必需材料:" + missing.join("、")
        : "必需材料已备齐,可以提交。";
    }
  }

  function upload(form, input) {
    var file = input.files && input.files[0];
    if (!file) { return; }
    var index = input.id.replace("file-", "");
    var hidden = form.querySelector("#material-" + index);
    var status = form.querySelector("#status-" + index);
    var bar = form.querySelector("#progress-" + index);
    var data = new FormData();
    data.append("file", file);
    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("data-upload-url"));
    request.setRequestHeader("X-CSRF-Token", csrfOf(form));
    bar.hidden = false; bar.value = 0;
    status.textContent = "正在上传 " + file.name + "…";
    request.upload.onprogress = function (event) {
      if (event.lengthComputable) { bar.value = Math.round(event.loaded * 100 / event.total); }
    };
    request.onload = function () {
      var reply = {};
      try { reply = JSON.parse(request.responseText); } catch (ignored) { reply = {}; }
      if (request.status === 201) {
        hidden.value = reply.file_id;
        input.value = "";
        bar.value = 100;
        status.textContent = "✓ 已上传:" + reply.name;
      } else {
        hidden.value = "";
        status.textContent = "✗ 上传失败:" + (reply.detail || ("错误 " + request.status));
      }
      refreshChecklist(form);
    };
    request.onerror = function () {
      status.textContent = "✗ 上传失败:网络错误,请重试";
    };
    request.send(data);
  }

  function enhanceApplyForm(form) {
    form.querySelectorAll("input[type=file][data-upload]").forEach(function (input) {
      input.addEventListener("change", function () { upload(form, input); });
    });
    form.querySelectorAll("textarea").forEach(function (area) {
      area.addEventListener("input", function () { refreshChecklist(form); });
    });
    refreshChecklist(form);
  }

  function enhanceReplay(form) {
    var slider = form.querySelector("input[type=range]");
    var out = form.querySelector("#step-out");
    var time = form.querySelector("#step-time");
    var moments = JSON.parse(slider.getAttribute("data-moments") || "[]");
    slider.addEventListener("input", function () {
      var step = Number(slider.value);
      out.textContent = String(step + 1);
      time.textContent = moments[step] || "";
      slider.setAttribute("aria-valuetext", "第 " + (step + 1) + " 步," + (moments[step] || ""));
    });
    // A pointer drag replays at once; keyboard users step and then press the button.
    var dragged = false;
    slider.addEventListener("pointerdown", function () { dragged = true; });
    slider.addEventListener("change", function () { if (dragged) { form.submit(); } });
  }

  function loadFragment(box) {
    var request = new XMLHttpRequest();
    request.open("GET", box.getAttribute("data-fragment"));
    request.setRequestHeader("X-Fragment", "1");
    request.onload = function () {
      if (request.status === 200) { box.innerHTML = request.responseText; }
    };
    request.send();
  }

  function rememberMoment(form) {
    var slider = form.querySelector("input[type=range]");
    var hidden = form.querySelector("input[name=as_of]");
    var raw = JSON.parse(slider.getAttribute("data-at") || "[]");
    function sync() { hidden.value = raw[Number(slider.value)] || ""; }
    slider.addEventListener("input", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-fragment]").forEach(loadFragment);
    document.querySelectorAll("form[data-autosubmit]").forEach(rememberMoment);
    document.querySelectorAll("form.apply-form").forEach(enhanceApplyForm);
    document.querySelectorAll("form[data-autosubmit]").forEach(enhanceReplay);
    // "返回上一页" on an error page: back in the history when there is one (the link's own
    // address, the hall's front page, otherwise and without script).
    document.querySelectorAll("a[data-back]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
}());
