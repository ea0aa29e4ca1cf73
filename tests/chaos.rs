//! The chaos suite (issue 10): the production shape as real OS processes (a private
//! PostgreSQL cluster, the sandbox bank, one `aisle api`, two `aisle worker`s) put through
//! worker kills (R1), a database restart and outage (R2), and a faulty bank with hostile
//! personas (R3). `tests/chaos/README.md` says how to run it and what it proves.

mod chaos {
    pub mod api;
    pub mod plan;
    pub mod stack;
    pub mod verdict;
}

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aisle_sandbox_bank::HOSTILE_PERSONAS;
use futures_util::{StreamExt, stream};
use serde_json::Value;
use uuid::Uuid;

use chaos::api::{Api, Probe, bank_consents, bank_leaks};
use chaos::plan::{HOSTILE_CODE, Plan, WELL_BEHAVED};
use chaos::stack::{BankDials, Stack};
use chaos::verdict::{self, Import, Rows, Verdict};

/// Sign-ins and import starts the harness makes at once.
const STARTS_AT_ONCE: usize = 8;

#[tokio::test(flavor = "multi_thread")]
async fn imports_survive_worker_kills_a_database_outage_a_faulty_bank_and_hostile_personas() {
    let plan = Plan::from_env();
    let started = Instant::now();
    let calm = BankDials {
        latency: Duration::ZERO,
        fault_rate: 0.0,
    };
    let mut stack = Stack::start(&plan, calm).await;
    let (_, api_key) = aisle::store::clients::create(&stack.pool, "chaos harness", &[])
        .await
        .expect("a client");
    let api = Api::new(&stack.api_url, api_key);
    let reference = reference_imports(&mut stack, &api).await;
    let reference_took = started.elapsed();

    // R1 to R3 at once: a slow, faulty bank; imports of every kind; kills and an outage.
    stack
        .replace_bank(BankDials {
            latency: plan.bank_latency,
            fault_rate: plan.fault_rate,
        })
        .await;
    let well_behaved = (0..plan.imports).map(|i| WELL_BEHAVED[i % WELL_BEHAVED.len()]);
    let well_behaved = start_imports(&api, well_behaved).await;
    let hostile = start_imports(&api, HOSTILE_PERSONAS.iter().copied()).await;
    let chaos_started = Instant::now();
    let probes = unleash(&mut stack, &api, &plan, well_behaved[0].command_id).await;
    let chaos_took = chaos_started.elapsed();
    settle(&mut stack, plan.settle).await;
    let settle_took = chaos_started.elapsed() - chaos_took;

    let run = ChaosRun {
        well_behaved,
        hostile,
        probes,
    };
    let mut v = judge(&stack, &reference, &run).await;
    v.line(
        "phases",
        format!(
            "setup and reference {:.0} s, chaos {:.0} s, settling {:.0} s",
            reference_took.as_secs_f64(),
            chaos_took.as_secs_f64(),
            settle_took.as_secs_f64()
        ),
    );
    let table = v.table(&format!(
        "chaos run ({}): bank latency {:?}, {}% faults, outage {:?}",
        plan.name,
        plan.bank_latency,
        plan.fault_rate * 100.0,
        plan.outage
    ));
    println!("{table}");
    assert!(
        v.failures().is_empty(),
        "{table}\nbroken promises:\n  {}\nlogs: {}",
        v.failures().join("\n  "),
        stack.run.path.display()
    );
}

/// The clean reference: each well-behaved persona's rows, from one import at a calm bank.
struct Reference {
    rows: HashMap<&'static str, Rows>,
    /// Consents the reference imports left open at the calm bank, which goes before the run.
    consents_left_open: usize,
}

async fn reference_imports(stack: &mut Stack, api: &Api) -> Reference {
    let imports = start_imports(api, WELL_BEHAVED.iter().copied()).await;
    settle(stack, Duration::from_secs(90)).await;
    let endings = verdict::endings(&stack.pool, &imports).await;
    let mut rows = HashMap::new();
    for import in &imports {
        let ending = &endings[&import.command_id];
        assert_eq!(
            ending.state, "successful",
            "the clean reference import of {} ended {ending:?}",
            import.login
        );
        rows.insert(
            import.login,
            verdict::rows_of(&stack.pool, import.command_id).await,
        );
    }
    Reference {
        rows,
        consents_left_open: consents_left_open(&stack.bank_url).await,
    }
}

/// What the chaos phase started and saw.
struct ChaosRun {
    well_behaved: Vec<Import>,
    hostile: Vec<Import>,
    probes: Vec<Probe>,
}

/// Reads what the run left in the database and at the bank into the table, and every broken
/// promise into the verdict's failures.
async fn judge(stack: &Stack, reference: &Reference, run: &ChaosRun) -> Verdict {
    let pool = &stack.pool;
    let all: Vec<Import> = run
        .well_behaved
        .iter()
        .chain(&run.hostile)
        .copied()
        .collect();
    let endings = verdict::endings(pool, &all).await;
    let mut v = Verdict::default();
    let (mut lost, mut unexpected) = (0, 0);
    for import in &run.well_behaved {
        let ending = &endings[&import.command_id];
        v.expect(ending.state == "successful", || {
            format!("{} ({}) ended {ending:?}", import.login, import.command_id)
        });
        let rows = verdict::rows_of(pool, import.command_id).await;
        let expected = &reference.rows[import.login];
        lost += expected.difference(&rows).count();
        unexpected += rows.difference(expected).count();
    }
    for import in &run.hostile {
        let ending = &endings[&import.command_id];
        let as_documented = ending.state == "error" && ending.code.as_deref() == Some(HOSTILE_CODE);
        v.expect(as_documented, || {
            format!(
                "hostile {} ended {ending:?}, not {HOSTILE_CODE}",
                import.login
            )
        });
    }
    let successful = endings.values().filter(|e| e.state == "successful").count();
    let times: Vec<Duration> = endings.values().filter_map(|e| e.took).collect();

    v.line(
        "imports",
        format!("{} + {} hostile", run.well_behaved.len(), run.hostile.len()),
    );
    v.line("kills", stack.kills);
    v.line("restarts", stack.restarts);
    let exits: Vec<String> = stack
        .unexpected_exits
        .iter()
        .map(|e| format!("{} ({})", e.name, e.status))
        .collect();
    v.line("unexpected exits", exits.len());
    v.expect(exits.is_empty(), || {
        format!("exited on their own: {}", exits.join(", "))
    });
    v.line("successful", successful);
    v.line("errors by code", verdict::errors_by_code(&endings));
    let duplicates = verdict::count(
        pool,
        "select (select count(*) - count(distinct (account_id, identity)) from transactions)
              + (select count(*) - count(distinct (card_id, identity)) from card_transactions)",
    )
    .await;
    v.zero("duplicates", duplicates);
    v.zero("lost rows", lost);
    v.zero("unexpected rows", unexpected);
    v.zero(
        "stuck commands",
        verdict::count(
            pool,
            "select count(*) from commands where state = 'in_progress'",
        )
        .await,
    );
    v.zero(
        "secrets left",
        verdict::count(
            pool,
            // A secret waiting for its bank session to be ended still counts.
            "select (select count(*) from sessions
                     where claimed_at is not null and bank_secret is not null)
                  + (select count(*) from bank_session_endings)",
        )
        .await,
    );
    let open = reference.consents_left_open + consents_left_open(&stack.bank_url).await;
    v.zero("consents left open", open);
    v.zero("consent-id leaks", bank_leaks(&stack.bank_url).await);
    let kept = run.probes.iter().filter(|p| p.keeps_the_outage_contract());
    v.line(
        "outage probes",
        format!(
            "{}/{} kept the 503 contract",
            kept.count(),
            run.probes.len()
        ),
    );
    v.expect(!run.probes.is_empty(), || {
        "no probe ran during the outage".into()
    });
    for probe in run.probes.iter().filter(|p| !p.keeps_the_outage_contract()) {
        v.expect(false, || {
            format!("during the outage the API answered {probe:?}")
        });
    }
    v.line("p50 import time", verdict::quantile(&times, 0.50));
    v.line("p99 import time", verdict::quantile(&times, 0.99));
    v
}

/// Signs each of `logins` in and starts its import, a few at a time.
async fn start_imports(api: &Api, logins: impl Iterator<Item = &'static str>) -> Vec<Import> {
    stream::iter(logins)
        .map(|login| async move {
            let command_id = api
                .start_import(login)
                .await
                .unwrap_or_else(|e| panic!("starting an import of {login}: {e}"));
            Import { login, command_id }
        })
        .buffer_unordered(STARTS_AT_ONCE)
        .collect()
        .await
}

/// R1 and R2: one chaos event per interval. Each interval kills a random worker (and starts
/// it again); a third of the way in PostgreSQL restarts, two thirds of the way in it stops
/// for the outage while the API is probed. Returns the probes.
async fn unleash(stack: &mut Stack, api: &Api, plan: &Plan, polled: Uuid) -> Vec<Probe> {
    let mut probes = Vec::new();
    for kill in 0..plan.kills {
        // Pacing the schedule, not waiting for an outcome.
        tokio::time::sleep(plan.kill_interval).await;
        stack.note_exits();
        if kill == plan.restart_before_kill() {
            stack.restart_database().await;
        }
        if kill == plan.outage_before_kill() {
            stack.stop_database().await;
            let back = Instant::now() + plan.outage;
            while Instant::now() < back {
                probes.push(api.probe(polled).await);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            stack.resume_database().await;
        }
        stack.kill_a_worker();
    }
    probes
}

/// Polls until no command is `in_progress` and no bank session waits to be ended, or
/// `deadline` has passed, watching for processes that exit on their own meanwhile.
async fn settle(stack: &mut Stack, deadline: Duration) {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        stack.note_exits();
        let running: Result<i64, _> = sqlx::query_scalar(
            "select (select count(*) from commands where state = 'in_progress')
                      + (select count(*) from bank_session_endings)",
        )
        .fetch_one(&stack.pool)
        .await;
        if running.is_ok_and(|n| n == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How many of the bank's consents are not `terminatedByTpp`, polling a little while for
/// terminations still under way.
async fn consents_left_open(bank_url: &str) -> usize {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let open: Vec<Value> = bank_consents(bank_url)
            .await
            .into_iter()
            .filter(|c| c["status"] != "terminatedByTpp")
            .collect();
        if open.is_empty() || Instant::now() >= until {
            if !open.is_empty() {
                eprintln!("consents left open at the bank: {open:?}");
            }
            return open.len();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
