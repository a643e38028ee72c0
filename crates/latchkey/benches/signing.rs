//! The physical limit of the token endpoint: one signed access token per
//! algorithm, header and claims serialized and signed with a key parsed
//! once, as the key ring signs. docs/PERFORMANCE.md compares the server's
//! CPU per refresh with these. Run with `cargo bench -p latchkey --bench signing`.

#![allow(clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::keys::{self, Alg, KeyRing};
use latchkey::secret::MasterKey;

fn signing(c: &mut Criterion) {
    let master = MasterKey::generate();
    let records: Vec<_> = Alg::ALL
        .iter()
        .map(|alg| keys::generate(&master, *alg, 0, 0).expect("a key for every algorithm"))
        .collect();
    let ring = KeyRing::open(&records, &master).expect("the keys open");
    let claims = serde_json::json!({
        "iss": "https://auth.casexchange.example",
        "sub": "0815489e-b224-4dd2-b187-6575bc3e9cf5",
        "aud": "https://auth.casexchange.example",
        "client_id": "client_e0067ca2b76bd8a45cdc6422d0cde890",
        "scope": "openid email profile offline_access cases:read cases:write",
        "iat": 1_796_034_714,
        "exp": 1_796_038_314,
        "jti": "grant_r4y2K5JI.abcd",
        "firm_id": "7f194346-fed5-4bd1-ace4-216ee4b544e9",
        "email": "bench@example.com",
        "name": "Bench User",
        "role": "member",
    });
    let mut group = c.benchmark_group("sign access token");
    for alg in Alg::ALL {
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| ring.sign_jwt(alg, "at+jwt", &claims, 1).expect("signed"))
        });
    }
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
