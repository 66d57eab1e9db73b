// Starts Swagger UI on /docs with our OpenAPI document; "Try it out" uses the key you authorize with.
window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: true,
    tagsSorter: "alpha",
    docExpansion: "list",
  });
});
