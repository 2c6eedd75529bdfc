//! Every route of the desk in one table: method, path, who may use it and what kind of answer a
//! refusal gets. The router is built from the table, so no route can skip its guard, and a test
//! walks the table to check that every route refuses strangers and the wrong roles.
//!
//! To add routes: write a `pub const ROUTES: &[Route]` in your module and list it in [`TABLES`].
//!
//! ```ignore
//! pub const ROUTES: &[Route] = &[Route {
//!     method: Method::GET,
//!     path: "/review",
//!     access: Access::Roles(&[Role::Trainer, Role::Office]),
//!     kind: Kind::Page,
//!     nav: Some("审核"),
//!     handler: |m| on(m, review_page),
//! }];
//! ```

use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

use super::{auth, live, pages, reports, review, static_files, training, App};

/// What a person may do at the desk. Admins may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 培训人员: review flagged hits, give verdicts, build training sets.
    Trainer,
    /// 质量办公室: reports, rules; reads the review.
    Office,
    /// 值班主管: the live view.
    Supervisor,
    /// 管理员: everything, and the users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Trainer, Role::Office, Role::Supervisor, Role::Admin];

    /// The name stored in the record and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Trainer => "trainer",
            Role::Office => "office",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The name shown on the pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Trainer => "培训人员",
            Role::Office => "质量办公室",
            Role::Supervisor => "值班主管",
            Role::Admin => "管理员",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a role — use one of trainer, office, supervisor, admin")
            })
    }
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not: the login page and the static files only.
    Public,
    /// Anyone logged in.
    AnyUser,
    /// These roles (and admins).
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a logged-in person with `role` may use the route.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::AnyUser => true,
            Access::Roles(roles) => role == Role::Admin || roles.contains(&role),
        }
    }
}

/// What a route answers, which decides how a refusal looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTML for a person: without a session, 303 to `/login`; a wrong role gets a 403 page.
    Page,
    /// JSON for a page's script: 401 / 403 with a JSON error.
    Api,
    /// A Server-Sent Events stream: 401 / 403.
    Events,
    /// Audio from the clip folder: 401 / 403.
    Clip,
    /// CSS, JS and the like (always [`Access::Public`]).
    Static,
}

/// One route: the table row the router and the tests are built from.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// An axum path (`/clips/{*path}`, `/review/{id}`).
    pub path: &'static str,
    pub access: Access,
    pub kind: Kind,
    /// The label in the navigation bar (GET pages only); shown to the roles `access` allows.
    pub nav: Option<&'static str>,
    /// Builds the handler for the given method: `|m| on(m, my_handler)`.
    pub handler: fn(MethodFilter) -> MethodRouter<App>,
}

/// The tables, one per part of the desk. Add yours here.
pub const TABLES: &[&[Route]] = &[
    pages::ROUTES,
    auth::ROUTES,
    review::ROUTES,
    static_files::ROUTES,
    reports::ROUTES,
    training::ROUTES,
    live::ROUTES,
];

/// Every route of the desk.
pub fn all() -> impl Iterator<Item = &'static Route> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// The router: each route behind its guard, then the headers every answer carries.
pub fn router(app: App) -> Router {
    let mut router = Router::new();
    for route in all() {
        let filter = MethodFilter::try_from(route.method.clone()).unwrap_or_else(|_| {
            panic!("{} {}: not a method axum routes", route.method, route.path)
        });
        let guarded =
            (route.handler)(filter).layer(from_fn_with_state((app.clone(), route), auth::guard));
        router = router.route(route.path, guarded);
    }
    router
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(auth::security_headers))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_and_admins_may_do_everything() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        let e = "boss".parse::<Role>().unwrap_err();
        assert!(e.contains("trainer, office, supervisor, admin"), "{e}");
        let office_only = Access::Roles(&[Role::Office]);
        assert!(office_only.allows(Role::Office) && office_only.allows(Role::Admin));
        assert!(!office_only.allows(Role::Trainer));
    }

    #[test]
    fn the_table_is_sound() {
        let mut seen = std::collections::HashSet::new();
        for r in all() {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert_eq!(
                r.kind == Kind::Static,
                r.access == Access::Public && r.path != "/login",
                "{} {}: only static files and the login page are public",
                r.method,
                r.path
            );
            assert!(
                r.nav.is_none() || (r.kind == Kind::Page && r.method == Method::GET),
                "{}: only GET pages go in the navigation",
                r.path
            );
        }
    }
}
