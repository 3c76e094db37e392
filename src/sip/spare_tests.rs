//! Collections give their memory back once a flood has drained out of them, and a steady
//! load never makes them reallocate.

use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::Spare;

#[test]
fn a_table_emptied_after_a_flood_gives_its_memory_back() {
    let mut calls: HashMap<u64, [u8; 256]> = HashMap::new();
    for i in 0..5000 {
        calls.insert(i, [0; 256]);
    }
    let flood = calls.capacity();
    for i in 0..5000 {
        calls.remove(&i);
        calls.release_spare();
    }
    assert!(calls.capacity() <= 64, "{} of {flood}", calls.capacity());
}

#[test]
fn a_steady_table_keeps_its_allocation() {
    let mut calls: HashMap<u64, u64> = HashMap::new();
    for i in 0..200 {
        calls.insert(i, i);
    }
    // Calls come and go around 200 at once: never shrunk below what they need.
    for i in 200..10_000 {
        calls.remove(&(i - 200));
        calls.release_spare();
        assert!(calls.capacity() >= 199, "shrunk under a steady load");
        calls.insert(i, i);
    }
}

#[test]
fn queues_and_heaps_shrink_too() {
    let mut q: VecDeque<u64> = (0..10_000).collect();
    q.clear();
    q.release_spare();
    assert!(q.capacity() < 100);
    let mut h: BinaryHeap<u64> = (0..10_000).collect();
    h.clear();
    h.release_spare();
    assert!(h.capacity() < 100);
}
