//! Stores a record on a goodwill chain and reads it back, checking its proof
//! here, on the client: what an application linking `goodwill::runtime::client` does.
//!
//! ```text
//! cargo run --example records -- --node 127.0.0.1:7070 --key funded.key \
//!     [--name greeting] [--value "hello from goodwill"] [--paid-to gw1…]
//! ```
//!
//! `--key` is a key file (`goodwill keygen`) whose address holds enough for
//! the fee: a `--fund` of the genesis, for instance. With `--paid-to`, it
//! also asks whether that key has paid the address (a final payment).

use std::process::ExitCode;

use goodwill::chain::amount::format_coins;
use goodwill::chain::crypto::{Keypair, PublicKey};
use goodwill::runtime::client::Client;

const USAGE: &str = "usage: records --node HOST:PORT --key FILE \
                     [--name KEY] [--value TEXT] [--paid-to ADDRESS]";

/// How long to wait for the record to be forged into a block.
const WAIT_MS: u64 = 60_000;

struct Args {
    node: String,
    key: Keypair,
    name: String,
    value: String,
    paid_to: Option<PublicKey>,
}

fn parse_args() -> Result<Args, String> {
    let (mut node, mut key, mut paid_to) = (None, None, None);
    let mut name = "greeting".to_string();
    let mut value = "hello from goodwill".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut arg = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--node" => node = Some(arg()?),
            "--key" => {
                let path = arg()?;
                key = Some(
                    goodwill::runtime::keyfile::read(path.as_ref()).map_err(|e| e.to_string())?,
                );
            }
            "--name" => name = arg()?,
            "--value" => value = arg()?,
            "--paid-to" => {
                paid_to = Some(goodwill::chain::address::parse(&arg()?).map_err(|e| e.to_string())?)
            }
            "-h" | "--help" => return Err(String::new()), // usage, on stdout
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        node: node.ok_or("--node is required")?,
        key: key.ok_or("--key is required")?,
        name,
        value,
        paid_to,
    })
}

async fn run(args: Args) -> Result<bool, goodwill::runtime::client::ClientError> {
    let me = args.key.public();

    // Connect: the handshake tells us the node's chain id, which every
    // transaction we sign will carry.
    let mut client = Client::connect(&args.node).await?;
    let chain = client.params().await?;
    println!(
        "chain:    {} ({}), slot {} ms, min fee {} GWL, final after {} blocks",
        chain.chain_name,
        chain.chain_id,
        chain.slot_ms,
        format_coins(chain.min_fee),
        chain.finality_depth
    );
    let account = client.balance(me).await?;
    println!("address:  {me}");
    println!("balance:  {} GWL", format_coins(account.balance));

    // Store: signs a PutData with the next nonce and the minimum fee. The
    // node accepting it only means it is in the mempool...
    let id = client
        .put_data(&args.key, args.name.as_bytes(), args.value.as_bytes())
        .await?;
    println!(
        "stored:   {} = {:?} in transaction {id}",
        args.name, args.value
    );
    // ... so wait for a block (the inclusion proof is checked on the way).
    let proof = client.wait_for_tx(id, WAIT_MS).await?;
    println!("in block: {}", proof.header.header.height);

    // Read back: the node sends the record with the PutData's proof, and
    // get_data checks it against the block's signed header itself.
    let Some(record) = client.get_data(me, args.name.as_bytes()).await? else {
        println!("value:    (none)");
        return Ok(false);
    };
    println!("value:    {}", String::from_utf8_lossy(&record.value));
    println!("height:   {}", record.height);
    println!("verified: {}", record.verified);
    if let Some(problem) = &record.problem {
        println!("problem:  {problem}");
    }

    // "Did this user pay?": a final transfer from `me` to `to` of at least
    // one unit, with any memo, in any block from height 1 on.
    if let Some(to) = args.paid_to {
        match client.payment_received(me, to, 1, None, 1).await? {
            Some(p) => println!(
                "paid:     yes, {to} in transaction {} at height {}",
                p.tx.id(),
                p.header.header.height
            ),
            None => println!("paid:     no final payment to {to}"),
        }
    }
    Ok(record.verified)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) if why.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("records: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match smol::block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("records: {e}");
            ExitCode::FAILURE
        }
    }
}
