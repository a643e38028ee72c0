//! Hostile load (SPEC 13): what an unauthenticated flood can make the
//! server spend. Sign-in runs argon2id (12 MiB a check) on a fixed number
//! of workers behind a short queue; a flood gets quick "try again"
//! answers, never more memory, and the memory it did use is given back
//! once the flood is over.

use std::time::Duration;

use crate::helpers::ServerProcess;
use crate::user_agent::{UserAgent, hidden_inputs};

/// Peak resident memory of a process, in KiB (Linux `VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// Resident memory of a process now, in KiB (Linux `VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_is_answered_in_bounded_memory_which_is_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("latchkey.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"sqlite://{}\"\n[rate_limits]\ntrusted_proxies = [\"127.0.0.1\"]\n",
            dir.path().join("latchkey.db").display()
        ),
    )
    .unwrap();
    let env = [(
        "LATCHKEY_MASTER_KEY",
        latchkey::secret::MasterKey::generate().to_base64(),
    )];
    let server = ServerProcess::start(&["--config", config.to_str().unwrap(), "serve"], &env);
    let login = format!("{}/login", server.base_url);

    // One real CSRF pair, as an attacker's script would fetch it.
    let mut agent = UserAgent::new(&server.base_url);
    let page = agent.get(&login).await;
    let csrf_token = hidden_inputs(&page.body)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value)
        .unwrap();
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    // What the server holds before the flood: its code, caches and pools
    // (more in this debug build than in a release one).
    let before_mib = rss_kib(server.pid()) / 1024;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let attempts = (0..200u32).map(|n| {
        let request = http
            .post(&login)
            .header("cookie", &cookie)
            // Each attempt from its own address, so no throttle spares
            // the password workers.
            .header("x-forwarded-for", format!("10.9.{}.{}", n / 250, n % 250 + 1))
            .form(&[
                ("csrf_token", csrf_token.as_str()),
                ("email", &format!("nobody{n}@example.com")),
                ("password", "a guess of some length"),
                ("return_to", "/"),
            ]);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.headers().contains_key("retry-after"),
            )
        }
    });
    let answers = futures_util_join_all(attempts).await;
    let checked = answers.iter().filter(|(status, _)| *status == 401).count();
    let refused = answers
        .iter()
        .filter(|(status, retry)| *status == 503 && *retry)
        .count();
    assert_eq!(
        checked + refused,
        200,
        "every attempt gets 401 or 503 with Retry-After: {answers:?}"
    );
    assert!(checked > 0, "no password was checked: the test proves nothing");
    assert!(
        refused > 0,
        "the flood never filled the queue: the test proves nothing"
    );
    let peak_mib = peak_rss_kib(server.pid()) / 1024;
    eprintln!("{checked} checked, {refused} refused, peak RSS {peak_mib} MiB, {before_mib} MiB before");
    // The flood may add the password workers' argon2 memory and the queued
    // requests, not more: 46 MiB over what the server held before, so a
    // release build (17.5 MiB after start) stays within its 64 MiB.
    assert!(
        peak_mib.saturating_sub(before_mib) < 46,
        "peak RSS {peak_mib} MiB under 200 concurrent sign-ins, {before_mib} MiB before them"
    );
    // The password workers give their argon2 memory back after 2 s without
    // work, and the allocator returns it to the system: back within 12 MiB
    // of what the server held before (a release build: 17.5 MiB after
    // start, under 40 MiB after the load).
    let mut after_mib = rss_kib(server.pid()) / 1024;
    for _ in 0..40 {
        if after_mib < before_mib + 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after_mib = rss_kib(server.pid()) / 1024;
    }
    eprintln!("RSS {after_mib} MiB after the flood");
    assert!(
        after_mib < before_mib + 12,
        "RSS still {after_mib} MiB 10 s after the flood, {before_mib} MiB before it"
    );
    server.terminate();
}

/// Runs every future to completion concurrently.
async fn futures_util_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
