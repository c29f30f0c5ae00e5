/**
 * @module docs
 * `GET /docs`: the HTTP contract rendered for people by Scalar's API reference, reading the
 * same `/openapi.yaml` clients download. Quiver serves the page; the browser loads Scalar's
 * script from jsDelivr, pinned to one version, because no package small enough to depend on
 * ships that bundle (`@scalar/api-reference` brings ~300 MB of Vue tooling). So the page needs
 * internet access in the browser, not on the server: when the script cannot load, the page
 * says so and links to `/openapi.yaml`. Scalar's web fonts, telemetry and hosted panels are
 * turned off, so nothing else is fetched from outside.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import { methodNotAllowed } from './method-not-allowed.ts';

/** Scalar's single-file browser bundle; bump deliberately, after looking at the page. */
export const SCALAR_BUNDLE_URL = 'https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.72.1/dist/browser/standalone.js';

/**
 * Shown instead of the reference when the bundle did not load (offline, or the CDN blocked).
 * Runs after Scalar's own init script, which fails with a ReferenceError in that case.
 */
const OFFLINE_FALLBACK = `
    <script type="text/javascript">
      if (typeof Scalar === 'undefined') {
        document.getElementById('app').innerHTML =
          '<main style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">' +
          '<h1>Quiver HTTP API</h1>' +
          '<p>This page renders the API reference with Scalar, loaded from cdn.jsdelivr.net, which this browser cannot reach.</p>' +
          '<p>The contract itself is served by Quiver: <a href="/openapi.yaml">/openapi.yaml</a> (OpenAPI 3.1).</p>' +
          '</main>';
      }
    </script>
  </body>`;

/** Routes for `/docs`; HEAD is answered by Hono from the GET handler. */
export function docsRoutes(): Hono {
  const reference = Scalar({
    url: '/openapi.yaml',
    pageTitle: 'Quiver HTTP API',
    cdn: SCALAR_BUNDLE_URL,
    withDefaultFonts: false,
    // A local engine's docs page phones nobody: no usage telemetry, no hosted AI or MCP panels.
    telemetry: false,
    agent: { disabled: true },
    mcp: { disabled: true },
    showDeveloperTools: 'never',
  });
  return new Hono()
    .get('/docs', async (c, next) => {
      const page = await reference(c, next);
      if (!(page instanceof Response)) return page;
      return c.html((await page.text()).replace('</body>', OFFLINE_FALLBACK));
    })
    .all('/docs', methodNotAllowed(['GET', 'HEAD']));
}
