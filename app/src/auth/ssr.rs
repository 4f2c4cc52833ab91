//! Accounts on the server: validated inputs, argon2id hashes, throttled log-ins, sessions.

use super::{CurrentUser, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::error::AppError;
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;
use uuid::Uuid;

/// The signed-in user and the session's clocks, kept in the session.
const SESSION_KEY: &str = "signed_in";

/// How long a session lasts: it ends after `idle` without a request, and in any case
/// `lifetime` after log-in (a stolen cookie does not live for ever).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub lifetime_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_secs: 7 * 24 * 3600,
            lifetime_secs: 30 * 24 * 3600,
        }
    }
}

impl SessionPolicy {
    /// How often an active session's clock is written back (which renews its expiry):
    /// hourly, or sooner for short idle limits, so a request is not a write each time.
    fn renew_after_secs(&self) -> i64 {
        (self.idle_secs / 10).clamp(0, 3600)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    user: Uuid,
    /// Shown in every page's header. Kept here because an account's email never changes,
    /// so a page needs no query for it; sessions started before it was kept have none and
    /// read it from the database.
    #[serde(default)]
    email: Option<String>,
    /// Unix seconds of the log-in and of the last renewal.
    since: i64,
    seen: i64,
    policy: SessionPolicy,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An email address as we store it: trimmed, lower-cased, plausibly shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let invalid = || AppError::invalid("Enter a valid email address, like name@example.com.");
        if email.is_empty() || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the sign-up rules. Never logged, never serialised.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(AppError::invalid(format!(
                "Choose a password of at least {MIN_PASSWORD_CHARS} characters."
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(AppError::invalid(format!(
                "Choose a password of at most {MAX_PASSWORD_CHARS} characters."
            )));
        }
        Ok(Self(raw.to_string()))
    }
}

/// argon2id with OWASP's parameters: m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

async fn hash_password(password: NewPassword) -> Result<String, AppError> {
    tokio_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(password.0.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))
    })
    .await
}

/// Checks a password against a stored hash. Without a stored hash it checks against a
/// fixed one, so that unknown addresses take as long to refuse as wrong passwords.
async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    // Well-formed, with the parameters above, and matched by no known password.
    const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2VnKxoL2jNVGZhDPlKo7ZtqJ/AI/J0h5nD0vBDYMvIg";
    let known = stored.is_some();
    tokio_blocking(move || {
        let stored = stored.unwrap_or_else(|| DECOY.to_string());
        let hash = PasswordHash::new(&stored)
            .map_err(|error| anyhow::anyhow!("stored password hash unreadable: {error}"))?;
        // argon2's verifier compares in constant time.
        Ok(known && hasher().verify_password(password.as_bytes(), &hash).is_ok())
    })
    .await
}

/// Hashes running at once: half the machine's cores, at least one. Each takes 19 MiB
/// and a core for a good fraction of a second: a burst of sign-ups or log-ins waits its
/// turn instead of taking the machine's memory (512 at once would be nearly 10 GiB), and
/// leaves the other cores to the pages everyone else is loading.
fn parallel_hashes() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

async fn tokio_blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> =
        std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(parallel_hashes()));
    let _turn = HASHING.acquire().await.map_err(anyhow::Error::from)?;
    Ok(tokio::task::spawn_blocking(work)
        .await
        .map_err(anyhow::Error::from)??)
}

#[tracing::instrument(name = "auth::register", skip_all)]
pub async fn register(pool: &PgPool, email: &str, password: &str) -> Result<CurrentUser, AppError> {
    let email = Email::parse(email)?;
    let password = NewPassword::parse(password)?;
    let hash = hash_password(password).await?;
    let id = Uuid::new_v4();
    let inserted = sqlx::query!(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING",
        id,
        email.as_str(),
        hash
    )
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::Conflict(
            "An account with this email already exists. Log in instead.".into(),
        ));
    }
    tracing::info!(user_id = %id, "account created");
    Ok(CurrentUser { id, email: email.0 })
}

/// Log-in and sign-up throttling. Each attempt is counted before the password is
/// checked, in one statement that also says whether it must wait, so parallel attempts
/// cannot slip past the count. A log-in is counted three ways: for the account from this
/// address (a few free failures, then waits doubling from 30 s up to 15 min), for the
/// account from anywhere (many more: an attacker cannot lock the owner out from one
/// address) and for the address (any account). Counts are forgotten an hour after the
/// last attempt, and the pair's and the account's on a successful log-in.
mod throttle {
    pub const PAIR_FREE_FAILURES: i32 = 5;
    pub const ACCOUNT_FREE_FAILURES: i32 = 50;
    pub const CLIENT_FREE_FAILURES: i32 = 20;
    /// New accounts one address may make in an hour before waiting.
    pub const CLIENT_FREE_SIGNUPS: i32 = 10;
    const FIRST_DELAY_SECS: i64 = 30;
    const MAX_DELAY_SECS: i64 = 15 * 60;

    pub fn delay_secs(failures: i32, free: i32) -> i64 {
        if failures < free {
            return 0;
        }
        let doublings = u32::try_from(failures - free).unwrap_or(0).min(16);
        (FIRST_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
    }
}

fn account_key(email: &Email) -> String {
    format!("email:{}", email.as_str())
}

fn pair_key(email: &Email, address: IpAddr) -> String {
    format!("pair:{}|{address}", email.as_str())
}

fn client_key(address: IpAddr) -> String {
    format!("ip:{address}")
}

/// Counts an attempt under each key and refuses it (429) when a key's earlier failures
/// ask for a wait that has not passed.
async fn count_attempt(pool: &PgPool, keys: &[(String, i32)]) -> Result<(), AppError> {
    let names: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
    let rows = sqlx::query!(
        r#"INSERT INTO login_failures (key, failures, last_failed_at)
           SELECT key, 1, now() FROM UNNEST($1::text[]) AS key
           ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN login_failures.last_failed_at < now() - interval '1 hour'
                               THEN 1 ELSE login_failures.failures + 1 END,
               previous_failed_at = CASE WHEN login_failures.last_failed_at < now() - interval '1 hour'
                                         THEN NULL ELSE login_failures.last_failed_at END,
               last_failed_at = now()
           RETURNING key, failures,
                     EXTRACT(EPOCH FROM (now() - previous_failed_at))::bigint AS seconds_since"#,
        &names
    )
    .fetch_all(pool)
    .await?;
    let wait = rows
        .iter()
        .filter_map(|row| {
            let free = keys.iter().find(|(key, _)| *key == row.key)?.1;
            // The failures before this attempt decide its wait, from the last of them.
            let since = row.seconds_since?;
            let remaining = throttle::delay_secs(row.failures - 1, free) - since;
            (remaining > 0).then_some(remaining)
        })
        .max();
    match wait {
        Some(seconds) => Err(AppError::TooManyAttempts {
            retry_after_secs: seconds as u64,
        }),
        None => Ok(()),
    }
}

/// Throttles sign-ups from one address (a script making accounts by the hundred).
pub async fn count_signup(pool: &PgPool, client: Option<IpAddr>) -> Result<(), AppError> {
    match client {
        Some(address) => {
            let key = format!("signup:{address}");
            count_attempt(pool, &[(key, throttle::CLIENT_FREE_SIGNUPS)]).await
        }
        None => Ok(()),
    }
}

#[tracing::instrument(name = "auth::authenticate", skip_all)]
pub async fn authenticate(
    pool: &PgPool,
    email: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<CurrentUser, AppError> {
    let wrong = || AppError::invalid("That email and password do not match an account.");
    let Ok(email) = Email::parse(email) else {
        return Err(wrong());
    };
    let keys = match client {
        Some(address) => vec![
            (pair_key(&email, address), throttle::PAIR_FREE_FAILURES),
            (account_key(&email), throttle::ACCOUNT_FREE_FAILURES),
            (client_key(address), throttle::CLIENT_FREE_FAILURES),
        ],
        None => vec![(account_key(&email), throttle::PAIR_FREE_FAILURES)],
    };
    count_attempt(pool, &keys).await?;

    let user = sqlx::query!(
        "SELECT id, password_hash FROM users WHERE email = $1",
        email.as_str()
    )
    .fetch_optional(pool)
    .await?;
    let (id, stored) = match user {
        Some(user) => (Some(user.id), Some(user.password_hash)),
        None => (None, None),
    };
    let password = password.chars().take(MAX_PASSWORD_CHARS).collect();
    match (id, verify_password(password, stored).await?) {
        (Some(id), true) => {
            // The owner got in: their counts start over (the address's does not).
            let owned: Vec<String> = keys
                .iter()
                .map(|(key, _)| key.clone())
                .filter(|key| !key.starts_with("ip:"))
                .collect();
            sqlx::query!("DELETE FROM login_failures WHERE key = ANY($1)", &owned)
                .execute(pool)
                .await?;
            // This attempt was counted against the address as if it failed: take it back.
            sqlx::query!(
                "UPDATE login_failures SET failures = GREATEST(failures - 1, 0)
                 WHERE key LIKE 'ip:%' AND key = ANY($1)",
                &keys.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>()
            )
            .execute(pool)
            .await?;
            Ok(CurrentUser { id, email: email.0 })
        }
        _ => {
            tracing::info!(account = %email.as_str(), "failed log-in");
            Err(wrong())
        }
    }
}

/// Where a request comes from: the socket's peer, or, when that peer is a trusted proxy
/// (`REELSMITH_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For` that is not one.
pub async fn client_address() -> Option<IpAddr> {
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<SocketAddr>>()
        .await
        .ok()?
        .0
        .ip();
    let trusted = crate::state::app_state().ok()?.trusted_proxies;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let headers = leptos_axum::extract::<http::HeaderMap>().await.ok()?;
    Some(trusted.client_behind(peer, &headers))
}

async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(%error, "session layer missing");
        AppError::Internal
    })
}

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store error");
    AppError::Internal
}

/// Logs the user in on this browser. The session id changes, so an id planted
/// before log-in (session fixation) is worth nothing after it.
pub async fn start_session(user: CurrentUser, policy: SessionPolicy) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(session_error)?;
    let now = unix_now();
    let signed_in = SignedIn {
        user: user.id,
        email: Some(user.email),
        since: now,
        seen: now,
        policy,
    };
    session
        .insert(SESSION_KEY, signed_in)
        .await
        .map_err(session_error)
}

pub async fn end_session() -> Result<(), AppError> {
    session().await?.flush().await.map_err(session_error)
}

/// The session's user, unless it was idle too long or is past its lifetime (it is then
/// ended); an active session's clock is renewed now and then.
pub async fn session_user_id(session: &Session) -> Option<Uuid> {
    signed_in(session).await.map(|signed_in| signed_in.user)
}

/// The session's log-in, as `session_user_id` checks and renews it.
async fn signed_in(session: &Session) -> Option<SignedIn> {
    let mut signed_in = match session.get::<SignedIn>(SESSION_KEY).await {
        Ok(signed_in) => signed_in?,
        Err(error) => {
            tracing::warn!(%error, "unreadable session treated as logged out");
            return None;
        }
    };
    let now = unix_now();
    let policy = signed_in.policy;
    if now - signed_in.since >= policy.lifetime_secs || now - signed_in.seen >= policy.idle_secs {
        if let Err(error) = session.flush().await {
            tracing::warn!(%error, "could not end an expired session");
        }
        return None;
    }
    if now - signed_in.seen >= policy.renew_after_secs() {
        signed_in.seen = now;
        if let Err(error) = session.insert(SESSION_KEY, &signed_in).await {
            tracing::warn!(%error, "could not renew a session");
        }
    }
    Some(signed_in)
}

/// The session's user with their email, when the session holds it (every log-in since
/// the email was kept in the session does): no query needed.
pub async fn session_account(session: &Session) -> Option<CurrentUser> {
    let signed_in = signed_in(session).await?;
    Some(CurrentUser {
        id: signed_in.user,
        email: signed_in.email?,
    })
}

/// The logged-in user's id, or 401.
pub async fn require_user() -> Result<Uuid, AppError> {
    session_user_id(&session().await?)
        .await
        .ok_or(AppError::Unauthenticated)
}

pub async fn current_user(pool: &PgPool) -> Result<Option<CurrentUser>, AppError> {
    let Some(signed_in) = signed_in(&session().await?).await else {
        return Ok(None);
    };
    let id = signed_in.user;
    if let Some(email) = signed_in.email {
        return Ok(Some(CurrentUser { id, email }));
    }
    let user = sqlx::query_as!(CurrentUser, "SELECT id, email FROM users WHERE id = $1", id)
        .fetch_optional(pool)
        .await?;
    Ok(user)
}

/// The logged-in user, for hand-written axum handlers: a request without a session is
/// answered 401 with the usual JSON error before the handler runs.
pub struct AuthUser(pub Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal)?;
        session_user_id(&session)
            .await
            .map(AuthUser)
            .ok_or(AppError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sessions started before the email was kept in them stay logged in.
    #[test]
    fn a_session_without_the_email_still_reads() {
        let user = Uuid::new_v4();
        let stored = serde_json::json!({
            "user": user,
            "since": 1,
            "seen": 2,
            "policy": SessionPolicy::default(),
        });
        let signed_in: SignedIn = serde_json::from_value(stored).expect("an older session reads");
        assert_eq!((signed_in.user, signed_in.email), (user, None));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn passwords_need_ten_characters_counted_as_characters() {
        assert!(NewPassword::parse("123456789").is_err());
        assert!(NewPassword::parse("1234567890").is_ok());
        assert!(
            NewPassword::parse("ééééééééé").is_err(),
            "9 characters, 18 bytes"
        );
    }

    #[test]
    fn throttle_delay_doubles_after_the_free_failures_up_to_fifteen_minutes() {
        assert_eq!(throttle::delay_secs(4, 5), 0);
        assert_eq!(throttle::delay_secs(5, 5), 30);
        assert_eq!(throttle::delay_secs(6, 5), 60);
        assert_eq!(throttle::delay_secs(40, 5), 900);
    }

    #[tokio::test]
    async fn the_decoy_hash_is_readable_and_matches_nothing() {
        assert!(!verify_password("anything at all".into(), None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_password(NewPassword::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse battery".into(), Some(hash))
            .await
            .unwrap());
    }
}
