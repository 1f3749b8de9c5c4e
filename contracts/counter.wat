;; counter: the smallest contract that keeps state.
;;
;; Input 01 adds one and returns the new count; 02 returns the count
;; (8 bytes, little endian, both). Anything else traps.
;; Storage: "n" → 8 bytes.
(module
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "set_return" (func $set_return (param i32 i32)))

  (memory (export "memory") 1)
  ;; 0: "n"   8: the count   16: input
  (data (i32.const 0) "n")

  (func (export "call")
    (local $method i32)
    (if (i32.ne (call $input_len) (i32.const 1)) (then unreachable))
    (call $input_read (i32.const 16))
    (local.set $method (i32.load8_u (i32.const 16)))
    (i64.store (i32.const 8) (i64.const 0))
    (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 8)))
    (if (i32.eq (local.get $method) (i32.const 1))
      (then
        (i64.store (i32.const 8) (i64.add (i64.load (i32.const 8)) (i64.const 1)))
        (call $storage_write (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 8)))
      (else
        (if (i32.ne (local.get $method) (i32.const 2)) (then unreachable))))
    (call $set_return (i32.const 8) (i32.const 8))))
