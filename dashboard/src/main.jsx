import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";

import { ApiError, api } from "./api.js";
import { ApiKeys } from "./pages/api-keys.jsx";
import { AssistantEditor } from "./pages/assistant-editor.jsx";
import { AssistantImport } from "./pages/assistant-import.jsx";
import { AssistantList } from "./pages/assistant-list.jsx";
import { TestRunPage } from "./pages/assistant-test-run.jsx";
import { AssistantTests } from "./pages/assistant-tests.jsx";
import { AssistantVersions } from "./pages/assistant-versions.jsx";
import { CallList } from "./pages/call-list.jsx";
import { CampaignList } from "./pages/campaign-list.jsx";
import { CampaignNew } from "./pages/campaign-new.jsx";
import { CampaignPage } from "./pages/campaign-page.jsx";
import { Credentials } from "./pages/credentials.jsx";
import { DoNotCall } from "./pages/do-not-call.jsx";
import { CallPage } from "./pages/call-page.jsx";
import { Knowledge } from "./pages/knowledge.jsx";
import { Overview } from "./pages/overview.jsx";
import { PhoneNumbers } from "./pages/phone-numbers.jsx";
import { Settings } from "./pages/settings.jsx";
import { SignIn } from "./pages/sign-in.jsx";
import { Talk } from "./pages/talk.jsx";
import { Tools } from "./pages/tools.jsx";
import { Link, match, navigate, useLocation } from "./router.jsx";
import "./styles.css";

// Pages by path, first match wins; each gets the path's named parts as props.
const PAGES = [
  ["/app/overview", Overview],
  ["/app/assistants", AssistantList],
  ["/app/assistants/new", AssistantEditor],
  ["/app/assistants/import", AssistantImport],
  ["/app/assistants/:id", AssistantEditor],
  ["/app/assistants/:id/knowledge", Knowledge],
  ["/app/assistants/:id/talk", Talk],
  ["/app/assistants/:id/versions", AssistantVersions],
  ["/app/assistants/:id/tests", AssistantTests],
  ["/app/assistants/:id/tests/runs/:run", TestRunPage],
  ["/app/calls", CallList],
  ["/app/calls/:id", CallPage],
  ["/app/campaigns", CampaignList],
  ["/app/campaigns/new", CampaignNew],
  ["/app/campaigns/do-not-call", DoNotCall],
  ["/app/campaigns/:id", CampaignPage],
  ["/app/phone-numbers", PhoneNumbers],
  ["/app/tools", Tools],
  ["/app/api-keys", ApiKeys],
  ["/app/credentials", Credentials],
  ["/app/settings", Settings],
];

function Shell({ me, onSignOut, children }) {
  const { path } = useLocation();
  const [error, setError] = useState(null);
  const signOut = async () => {
    try {
      await api.post("/auth/logout");
      navigate("/app/login");
      onSignOut();
    } catch (caught) {
      setError(caught.message);
    }
  };
  const section = (href) => (path === href || path.startsWith(`${href}/`) ? "page" : undefined);
  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/app/assistants" class="brand">
          callwright
        </Link>
        <nav aria-label="Sections">
          <Link href="/app/overview" aria-current={section("/app/overview")}>
            Overview
          </Link>
          <Link href="/app/assistants" aria-current={section("/app/assistants")}>
            Assistants
          </Link>
          <Link href="/app/calls" aria-current={section("/app/calls")}>
            Calls
          </Link>
          <Link href="/app/campaigns" aria-current={section("/app/campaigns")}>
            Campaigns
          </Link>
          <Link href="/app/phone-numbers" aria-current={section("/app/phone-numbers")}>
            Phone numbers
          </Link>
          <Link href="/app/tools" aria-current={section("/app/tools")}>
            Tools
          </Link>
          <Link href="/app/api-keys" aria-current={section("/app/api-keys")}>
            API keys
          </Link>
          <Link href="/app/credentials" aria-current={section("/app/credentials")}>
            Credentials
          </Link>
          <Link href="/app/settings" aria-current={section("/app/settings")}>
            Settings
          </Link>
        </nav>
        <div class="who">
          <span id="signed-in-as" title={me.organization.name}>
            {me.user.email}
          </span>
          <button type="button" id="sign-out" class="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {error && (
        <p class="alert" role="alert">
          {error}
        </p>
      )}
      <main id="page">{children}</main>
    </div>
  );
}

function NotFound({ path }) {
  return (
    <section class="empty">
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/app/assistants">Back to the assistants</Link>
      </p>
    </section>
  );
}

function App() {
  const { path, query } = useLocation();
  // undefined: still asking the API who we are; null: signed out.
  const [me, setMe] = useState(undefined);
  const [error, setError] = useState(null);

  const loadMe = useCallback(async () => {
    try {
      setMe(await api.get("/api/v1/me"));
      setError(null);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) setMe(null);
      else setError(caught.message);
    }
  }, []);
  useEffect(() => {
    loadMe();
  }, [loadMe]);

  useEffect(() => {
    const home = path === "/" || path === "/app";
    if (me === null && path !== "/app/login") {
      const next = home ? "" : `?next=${encodeURIComponent(path)}`;
      navigate(`/app/login${next}`, { replace: true });
    } else if (me && (home || path === "/app/login")) {
      navigate(safeNext(query.get("next")), { replace: true });
    }
  }, [me, path, query]);

  if (error) {
    return (
      <p class="alert" role="alert">
        {error}
      </p>
    );
  }
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return path === "/app/login" ? <SignIn onSignedIn={loadMe} /> : null;
  for (const [pattern, Page] of PAGES) {
    const params = match(pattern, path);
    if (params) {
      return (
        <Shell me={me} onSignOut={() => setMe(null)}>
          <Page key={path} {...params} />
        </Shell>
      );
    }
  }
  return (
    <Shell me={me} onSignOut={() => setMe(null)}>
      {["/", "/app", "/app/login"].includes(path) ? null : <NotFound path={path} />}
    </Shell>
  );
}

// Only this dashboard's own paths: never an absolute URL handed in by a link.
function safeNext(next) {
  return next?.startsWith("/app/") ? next : "/app/assistants";
}

render(<App />, document.getElementById("app"));
