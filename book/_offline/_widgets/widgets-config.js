// Loaded before require.js and embed-amd.js on every page that holds widgets (nb_ipywidgets_js).
(function () {
  // The folder this script was served from: the book's local copy of the widget scripts.
  var here = new URL(".", document.currentScript.src).href.replace(/\/$/, "");
  // RequireJS reads a global `require` object as its configuration. The bundled widget modules
  // locate their icon fonts relative to their own module URL, which would otherwise resolve next to
  // the page; map the module names to this folder so the fonts load from here too.
  window.require = {
    paths: {
      "@jupyter-widgets/html-manager/dist": here,
      "@jupyter-widgets": here,
    },
  };
  // @jupyter-widgets/base typesets widget labels through the MathJax 2 API (MathJax.Hub.Queue);
  // the book loads MathJax 3. Route those calls to MathJax 3's typesetPromise.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (mathjax && !mathjax.Hub) {
      mathjax.Hub = {
        Queue: function (args) {
          var element = args && args[2];
          var ready = (mathjax.startup && mathjax.startup.promise) || Promise.resolve();
          ready
            .then(function () {
              if (mathjax.typesetPromise) return mathjax.typesetPromise(element ? [element] : undefined);
            })
            .catch(function (error) {
              console.warn("MathJax typeset of a widget label failed", error);
            });
        },
      };
    }
  });
})();
