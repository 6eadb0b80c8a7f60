// /docs: Swagger UI over this node's /openapi.json, from the vendored bundle (no CDN).
// A classic script (not a module): swagger-ui-bundle.js defines the global SwaggerUIBundle.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null, // the default validator badge loads from validator.swagger.io
});
