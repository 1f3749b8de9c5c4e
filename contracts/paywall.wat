;; paywall: pay at least the price, and the contract remembers that you did.
;;
;; The fee check of a web app: the app asks `paid(address)` before it
;; serves the user. Deployed with the price as its init input (8 bytes, an
;; unsigned little-endian amount); the deployer is its owner.
;;
;; Input of a call: one method byte, then its arguments.
;;   01                 pay: send at least the price as the call's value;
;;                      adds the value to what the caller paid so far and
;;                      emits caller(32) ‖ new total(8). Less than the
;;                      price traps, so the value goes back to the caller.
;;   02 ‖ address(32)   paid: returns what the address paid in all (8
;;                      bytes, little endian; zero if nothing).
;;   03                 withdraw: the owner takes the whole balance.
;;   04                 price: returns the price (8 bytes, little endian).
;; Anything else traps.
;;
;; Storage: "owner" → 32 bytes, "price" → 8 bytes, "p" ‖ address → 8 bytes.
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "value_received" (func $value_received (result i64)))
  (import "env" "balance" (func $balance (result i64)))
  (import "env" "transfer" (func $transfer (param i32 i64) (result i32)))
  (import "env" "emit_event" (func $emit_event (param i32 i32)))
  (import "env" "set_return" (func $set_return (param i32 i32)))

  (memory (export "memory") 1)
  ;; 0: "owner"   8: "price"   16: "p" ‖ address (33 bytes) ‖ total (8)
  ;; 64: scratch u64   128: caller   160: owner   256: input (≤ 1024)
  (data (i32.const 0) "owner")
  (data (i32.const 8) "price")
  (data (i32.const 16) "p")

  (func (export "deploy")
    (if (i32.ne (call $input_len) (i32.const 8)) (then unreachable))
    (call $input_read (i32.const 256))
    (call $storage_write (i32.const 8) (i32.const 5) (i32.const 256) (i32.const 8))
    (call $caller (i32.const 128))
    (call $storage_write (i32.const 0) (i32.const 5) (i32.const 128) (i32.const 32)))

  (func $price (result i64)
    (drop (call $storage_read (i32.const 8) (i32.const 5) (i32.const 64) (i32.const 8)))
    (i64.load (i32.const 64)))

  ;; What the address at 17..49 paid so far.
  (func $paid_by (result i64)
    (i64.store (i32.const 64) (i64.const 0))
    (drop (call $storage_read (i32.const 16) (i32.const 33) (i32.const 64) (i32.const 8)))
    (i64.load (i32.const 64)))

  (func $is_owner (result i32)
    (call $caller (i32.const 128))
    (drop (call $storage_read (i32.const 0) (i32.const 5) (i32.const 160) (i32.const 32)))
    (i32.and
      (i32.and
        (i64.eq (i64.load (i32.const 128)) (i64.load (i32.const 160)))
        (i64.eq (i64.load (i32.const 136)) (i64.load (i32.const 168))))
      (i32.and
        (i64.eq (i64.load (i32.const 144)) (i64.load (i32.const 176)))
        (i64.eq (i64.load (i32.const 152)) (i64.load (i32.const 184))))))

  (func (export "call")
    (local $len i32)
    (local $method i32)
    (local $value i64)
    (local.set $len (call $input_len))
    (if (i32.or (i32.eqz (local.get $len)) (i32.gt_u (local.get $len) (i32.const 1024)))
      (then unreachable))
    (call $input_read (i32.const 256))
    (local.set $method (i32.load8_u (i32.const 256)))

    ;; 01 pay
    (if (i32.eq (local.get $method) (i32.const 1))
      (then
        (local.set $value (call $value_received))
        (if (i64.lt_u (local.get $value) (call $price)) (then unreachable))
        (call $caller (i32.const 17))
        (i64.store (i32.const 49) (i64.add (call $paid_by) (local.get $value)))
        (call $storage_write (i32.const 16) (i32.const 33) (i32.const 49) (i32.const 8))
        (call $emit_event (i32.const 17) (i32.const 40))
        (return)))

    ;; 02 paid(address)
    (if (i32.eq (local.get $method) (i32.const 2))
      (then
        (if (i32.ne (local.get $len) (i32.const 33)) (then unreachable))
        (memory.copy (i32.const 17) (i32.const 257) (i32.const 32))
        (i64.store (i32.const 72) (call $paid_by))
        (call $set_return (i32.const 72) (i32.const 8))
        (return)))

    ;; 03 withdraw
    (if (i32.eq (local.get $method) (i32.const 3))
      (then
        (if (i32.eqz (call $is_owner)) (then unreachable))
        (if (i32.ne (call $transfer (i32.const 128) (call $balance)) (i32.const 0))
          (then unreachable))
        (return)))

    ;; 04 price
    (if (i32.eq (local.get $method) (i32.const 4))
      (then
        (i64.store (i32.const 72) (call $price))
        (call $set_return (i32.const 72) (i32.const 8))
        (return)))

    unreachable))
