// A real OpenID Connect provider for the tests, standing in for ProConnect: panva's
// oidc-provider (the certified reference implementation), configured as ProConnect documents
// itself to its service providers:
// - an issuer with a path (`…/api/v2`) and its discovery document, JWKS, authorize, token,
//   userinfo and end-session endpoints;
// - the code flow, with a `state` and a `nonce` of at least 32 characters and no other
//   parameter than the documented ones (ProConnect answers `Y000400` otherwise);
// - one scope per claim (`openid email given_name usual_name`), the client authenticated by
//   `client_secret_post` only, the id_token and the userinfo answer signed (RS256): the userinfo
//   endpoint answers `application/jwt`, and the id_token carries no e-mail;
// - no consent screen; RP-initiated logout with `id_token_hint`, `state` and
//   `post_logout_redirect_uri`, its confirmation form submitted by the page itself.
//
// Usage: node provider.mjs CONFIG.json, CONFIG holding `client_id`, `client_secret`,
// `redirect_uris`, `post_logout_redirect_uris` and `accounts_file`: a JSON object
// e-mail → {sub, given_name, usual_name}, read again at each sign-in so that a test can add
// the agents it needs. Listens on a free port of 127.0.0.1 and prints `{"issuer": …}` once
// ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const PREFIX = '/api/v2';
const MIN_RANDOM = 32;
const AUTHORIZE_PARAMETERS = new Set([
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'claims',
  'prompt', 'idp_hint', 'acr_values', 'login_hint',
]);

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, 'utf8'));
}

function accountOf(sub) {
  const found = Object.entries(accounts()).find(([, account]) => account.sub === sub);
  return found && { email: found[0], ...found[1] };
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>${title}</title>`
    + `</head><body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function refuse(ctx, reason) {
  ctx.status = 400;
  ctx.type = 'text';
  ctx.body = `Y000400 : Bad Request Exception (${reason})`;
}

// What ProConnect checks before the protocol itself.
async function proConnectRules(ctx, next) {
  const query = ctx.query;
  if (ctx.method === 'GET' && ctx.path === '/authorize') {
    const unknown = Object.keys(query).filter((name) => !AUTHORIZE_PARAMETERS.has(name));
    if (unknown.length) return refuse(ctx, `paramètre non prévu : ${unknown.join(', ')}`);
    for (const name of ['state', 'nonce']) {
      if ((query[name] ?? '').length < MIN_RANDOM) {
        return refuse(ctx, `${name} absent ou de moins de ${MIN_RANDOM} caractères`);
      }
    }
  }
  if (ctx.method === 'POST' && ctx.path === '/token' && ctx.headers.authorization) {
    // ProConnect documents the secret in the request's body (client_secret_post); the library
    // would take it from a Basic header as well.
    ctx.status = 401;
    ctx.body = { error: 'invalid_client', error_description: 'client_secret_post attendu' };
    return undefined;
  }
  if (ctx.method === 'GET' && ctx.path === '/session/end') {
    for (const name of ['id_token_hint', 'post_logout_redirect_uri']) {
      if (!query[name]) return refuse(ctx, `${name} absent`);
    }
    if ((query.state ?? '').length < MIN_RANDOM) {
      return refuse(ctx, `state absent ou de moins de ${MIN_RANDOM} caractères`);
    }
  }
  return next();
}

function loginPage(uid, error) {
  const alert = error ? `<p role="alert">${escape(error)}</p>` : '';
  return page('Connexion ProConnect (fournisseur de test)', `${alert}
    <form method="post" action="${PREFIX}/interaction/${uid}/login">
      <label for="email">Adresse électronique professionnelle</label>
      <input id="email" name="email" type="email" required autofocus>
      <button type="submit">Continuer</button>
    </form>
    <form method="post" action="${PREFIX}/interaction/${uid}/abort">
      <button type="submit">Annuler et revenir au service</button>
    </form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(html);
}

// The provider's own pages: its sign-in form (an e-mail the provider knows is enough: the
// password step of the agent's identity provider is not what the tests are about).
async function interaction(provider, req, res) {
  const [uid, action] = req.url.slice(`${PREFIX}/interaction/`.length).split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Erreur', '<p>Interaction inconnue.</p>'));
  if (req.method === 'GET') return send(res, 200, loginPage(uid));
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: "L'usager a annulé la connexion.",
    }, { mergeWithLastSubmission: false });
  }
  const email = ((await readForm(req)).get('email') ?? '').trim();
  const known = accounts()[email];
  if (!known) return send(res, 200, loginPage(uid, 'Adresse inconnue de ce fournisseur.'));
  return provider.interactionFinished(req, res, { login: { accountId: known.sub } }, {
    mergeWithLastSubmission: false,
  });
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'parcours-tests', use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${PREFIX}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: config.client_id,
      client_secret: config.client_secret,
      redirect_uris: config.redirect_uris,
      post_logout_redirect_uris: config.post_logout_redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
      userinfo_signed_response_alg: 'RS256',
    }],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    routes: { authorization: '/authorize', userinfo: '/userinfo' },
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_post', 'private_key_jwt'],
    scopes: ['openid', 'email', 'given_name', 'usual_name'],
    claims: {
      openid: ['sub'],
      email: ['email'],
      given_name: ['given_name'],
      usual_name: ['usual_name'],
    },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // ProConnect's page submits the confirmation itself: the agent is not asked.
        async logoutSource(ctx, form) {
          ctx.body = page('Déconnexion', `${form.replace('</form>',
            '<input type="hidden" name="logout" value="yes"/></form>')}
            <script>document.forms[0].submit()</script>
            <noscript><button type="submit" form="op.logoutForm">Se déconnecter</button></noscript>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Déconnexion', '<p>Vous êtes déconnecté·e.</p>');
        },
      },
    },
    pkce: { required: () => false },
    interactions: { url: async (ctx, details) => `${PREFIX}/interaction/${details.uid}` },
    async findAccount(ctx, sub) {
      const account = accountOf(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          const { email, given_name, usual_name } = account;
          return { sub, email, given_name, usual_name };
        },
      };
    },
    // No consent screen: the grant covers what the service asked for.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Erreur', Object.entries(out)
        .map(([key, value]) => `<p><strong>${escape(key)}</strong> : ${escape(value)}</p>`).join(''));
    },
  });
  provider.use(proConnectRules);
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith(`${PREFIX}/interaction/`)) {
      interaction(provider, req, res).catch((error) => {
        send(res, 400, page('Erreur', `<p>${escape(error.message)}</p>`));
      });
    } else if (req.url.startsWith(`${PREFIX}/`)) {
      // Mounted under the issuer's path, as an Express `app.use(PREFIX, …)` would.
      req.originalUrl = req.url;
      req.url = req.url.slice(PREFIX.length);
      handle(req, res);
    } else {
      send(res, 404, page('Introuvable', ''));
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
