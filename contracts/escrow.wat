;; escrow: coins held for a receiver until a height, refundable before it.
;;
;; Deployed with receiver(32) ‖ release height(8, little endian) as its
;; init input; the deployer is the depositor.
;;
;; Input of a call: one method byte.
;;   01  fund: anyone adds the call's value to the escrow.
;;   02  release: from the release height on, anyone sends the whole
;;       balance to the receiver; before it, traps.
;;   03  refund: before the release height, the depositor takes the whole
;;       balance back; from it on, or from anyone else, traps.
;;   04  state: returns receiver(32) ‖ release height(8) ‖ balance(8).
;; Anything else traps.
;;
;; Storage: "to" → 32 bytes, "at" → 8 bytes, "from" → 32 bytes.
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "balance" (func $balance (result i64)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "transfer" (func $transfer (param i32 i64) (result i32)))
  (import "env" "set_return" (func $set_return (param i32 i32)))

  (memory (export "memory") 1)
  ;; 0: "to"   4: "at"   8: "from"
  ;; 64: receiver(32) ‖ height(8) ‖ balance(8) (the state answer)
  ;; 128: caller   160: depositor   256: input (≤ 1024)
  (data (i32.const 0) "to")
  (data (i32.const 4) "at")
  (data (i32.const 8) "from")

  (func (export "deploy")
    (if (i32.ne (call $input_len) (i32.const 40)) (then unreachable))
    (call $input_read (i32.const 256))
    (call $storage_write (i32.const 0) (i32.const 2) (i32.const 256) (i32.const 32))
    (call $storage_write (i32.const 4) (i32.const 2) (i32.const 288) (i32.const 8))
    (call $caller (i32.const 128))
    (call $storage_write (i32.const 8) (i32.const 4) (i32.const 128) (i32.const 32)))

  ;; Loads receiver and height to 64..104.
  (func $load
    (drop (call $storage_read (i32.const 0) (i32.const 2) (i32.const 64) (i32.const 32)))
    (drop (call $storage_read (i32.const 4) (i32.const 2) (i32.const 96) (i32.const 8))))

  (func $released (result i32)
    (i64.ge_u (call $block_height) (i64.load (i32.const 96))))

  (func $is_depositor (result i32)
    (call $caller (i32.const 128))
    (drop (call $storage_read (i32.const 8) (i32.const 4) (i32.const 160) (i32.const 32)))
    (i32.and
      (i32.and
        (i64.eq (i64.load (i32.const 128)) (i64.load (i32.const 160)))
        (i64.eq (i64.load (i32.const 136)) (i64.load (i32.const 168))))
      (i32.and
        (i64.eq (i64.load (i32.const 144)) (i64.load (i32.const 176)))
        (i64.eq (i64.load (i32.const 152)) (i64.load (i32.const 184))))))

  (func (export "call")
    (local $method i32)
    (if (i32.ne (call $input_len) (i32.const 1)) (then unreachable))
    (call $input_read (i32.const 256))
    (local.set $method (i32.load8_u (i32.const 256)))
    (call $load)

    ;; 01 fund: the value is already in the balance
    (if (i32.eq (local.get $method) (i32.const 1)) (then (return)))

    ;; 02 release
    (if (i32.eq (local.get $method) (i32.const 2))
      (then
        (if (i32.eqz (call $released)) (then unreachable))
        (if (i32.ne (call $transfer (i32.const 64) (call $balance)) (i32.const 0))
          (then unreachable))
        (return)))

    ;; 03 refund
    (if (i32.eq (local.get $method) (i32.const 3))
      (then
        (if (call $released) (then unreachable))
        (if (i32.eqz (call $is_depositor)) (then unreachable))
        (if (i32.ne (call $transfer (i32.const 128) (call $balance)) (i32.const 0))
          (then unreachable))
        (return)))

    ;; 04 state
    (if (i32.eq (local.get $method) (i32.const 4))
      (then
        (i64.store (i32.const 104) (call $balance))
        (call $set_return (i32.const 64) (i32.const 48))
        (return)))

    unreachable))
