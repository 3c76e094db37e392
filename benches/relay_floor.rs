//! The kernel's floor for relaying bridged calls' RTP through per-call sockets on
//! loopback, with no call logic, no recording and no runtime: what the 0.05%-per-call
//! target has to fit in, and what batching the system calls is worth.
//!
//! Each call has two sockets, like a bridged call's two legs. A generator thread sends
//! every call's two streams at 50 packets/s (172-byte G.711 packets, the calls spread
//! over the 20 ms), and a sink thread drains what is relayed. The relay thread, whose
//! own CPU time is measured (`CLOCK_THREAD_CPUTIME_ID`, after a warm-up), moves each
//! packet to the other leg's socket and sends it on, in one of these ways:
//!
//! - `epoll`: readiness for every socket (as the runtime does), one `recvmmsg` per ready
//!   socket until a short read, one `sendto` per packet;
//! - `uring`: io_uring with one receive armed per socket and every packet's send queued,
//!   all submitted and reaped together in one `io_uring_enter` per loop;
//! - `uring-sendto`: receives on io_uring as above, each packet sent at once with `sendto`
//!   (what the media threads did before their sends went on the ring);
//! - `uring-connected`: as `uring`, with each socket connected to the far end and its sends
//!   queued without an address, so the kernel keeps the route instead of looking it up
//!   for every packet;
//! - `connected`: as `epoll`, with each socket connected to the far end and sending with
//!   `send` (no route lookup per packet). The generator then sends from the sink's own
//!   socket, as a connected socket takes datagrams only from its peer.
//! - `shared`: one socket for every leg, as a media port shared by many calls would be.
//!   The far ends send from their own sockets to it, each packet's leg is found from its
//!   source address, and the thread takes up to 64 packets with one `recvmmsg` and sends
//!   them on with one `sendmmsg` (one address per message).
//!
//! `cargo bench --bench relay_floor` (`RELAY_CALLS`, default "200 400 800";
//! `RELAY_SECONDS`, default 10; `RELAY_MODES`, default "epoll uring"). Only 127.0.0.1.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PACKET: usize = 172;
const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    let calls: Vec<usize> = env_list("RELAY_CALLS", "200 400 800");
    let seconds: u64 = std::env::var("RELAY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let modes: Vec<String> = env_list("RELAY_MODES", "epoll uring");
    println!("| calls | mode | relay CPU (% of a core) | per call | packets relayed/s | lost |");
    println!("|---|---|---|---|---|---|");
    for &n in &calls {
        for mode in &modes {
            let r = run(n, Duration::from_secs(seconds), mode);
            println!(
                "| {n} | {mode} | {:.1} | {:.4}% | {:.0} | {} |",
                r.cpu_pct,
                r.cpu_pct / n as f64,
                r.relayed_per_s,
                r.lost
            );
        }
    }
}

fn env_list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

struct Outcome {
    cpu_pct: f64,
    relayed_per_s: f64,
    lost: u64,
}

/// One leg's socket, and where what it receives goes: out of the other leg's socket to
/// the far end (here the sink).
struct Legs {
    sockets: Vec<UdpSocket>,
    sink: SocketAddr,
}

impl Legs {
    fn peer(&self, i: usize) -> usize {
        i ^ 1
    }
}

fn run(calls: usize, length: Duration, mode: &str) -> Outcome {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_buffer(&sink, 8 << 20);
    let sockets: Vec<UdpSocket> = (0..calls * 2)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            set_buffer(&s, 256 << 10);
            s
        })
        .collect();
    let targets: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
    let legs = Legs {
        sockets,
        sink: sink.local_addr().unwrap(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));

    // Who sends each stream, and to where. With one shared socket the far ends are told
    // apart by their source address, so every leg's far end sends from a socket of its own
    // (the legs' sockets, which the shared mode does not otherwise use).
    let shared = (mode == "shared").then(|| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_buffer(&s, 8 << 20);
        s
    });
    let (senders, targets) = match &shared {
        Some(s) => (
            legs.sockets
                .iter()
                .map(|l| l.try_clone().unwrap())
                .collect(),
            vec![s.local_addr().unwrap()],
        ),
        None => (vec![sink.try_clone().unwrap()], targets),
    };
    let streams = calls * 2;
    let sink_thread = {
        let (stop, received) = (stop.clone(), received.clone());
        sink.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if sink.recv(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let sent = Arc::new(AtomicU64::new(0));
    let generator = {
        let (stop, sent) = (stop.clone(), sent.clone());
        // The generator stops first, so what it sent has time to come through.
        let until = Instant::now() + length - Duration::from_millis(300);
        std::thread::spawn(move || generate(&senders, &targets, streams, &stop, &sent, until))
    };
    let relay = {
        let stop = stop.clone();
        let mode = mode.to_owned();
        if mode.ends_with("connected") {
            for s in &legs.sockets {
                s.connect(legs.sink).unwrap();
            }
        }
        std::thread::spawn(move || match mode.as_str() {
            "uring" => relay_uring(&legs, &stop, length, Sends::Ring),
            "uring-sendto" => relay_uring(&legs, &stop, length, Sends::Sendto),
            "uring-connected" => relay_uring(&legs, &stop, length, Sends::RingConnected),
            "connected" => relay_epoll(&legs, &stop, length, true),
            "shared" => relay_shared(&legs, &shared.expect("bound above"), &stop, length),
            _ => relay_epoll(&legs, &stop, length, false),
        })
    };
    let (cpu, relayed) = relay.join().unwrap();
    generator.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    sink_thread.join().unwrap();
    let window = (length - WARM_UP).as_secs_f64();
    Outcome {
        cpu_pct: cpu.as_secs_f64() / window * 100.0,
        relayed_per_s: relayed as f64 / window,
        lost: sent
            .load(Ordering::Relaxed)
            .saturating_sub(received.load(Ordering::Relaxed)),
    }
}

fn set_buffer(s: &UdpSocket, bytes: i32) {
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid socket and a pointer to an int of the size given.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as u32,
            );
        }
    }
}

/// Every stream gets a packet every 20 ms, the streams spread over twenty 1 ms slots.
/// Stream `i` goes from `senders[i % senders.len()]` to `targets[i % targets.len()]`.
fn generate(
    senders: &[UdpSocket],
    targets: &[SocketAddr],
    streams: usize,
    stop: &AtomicBool,
    sent: &AtomicU64,
    until: Instant,
) {
    let packet = [0x80u8; PACKET];
    let start = Instant::now();
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        let slot = (tick % 20) as usize;
        for i in (slot..streams).step_by(20) {
            let (from, to) = (&senders[i % senders.len()], targets[i % targets.len()]);
            if from.send_to(&packet, to).is_ok() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        tick += 1;
        let next = start + Duration::from_millis(tick);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The relay thread's CPU and the packets it relayed after the warm-up.
struct Window {
    start: Instant,
    length: Duration,
    cpu_at: Option<Duration>,
    relayed_at: u64,
}

impl Window {
    fn new(length: Duration) -> Window {
        Window {
            start: Instant::now(),
            length,
            cpu_at: None,
            relayed_at: 0,
        }
    }

    /// Whether the run is over; starts the measured window after the warm-up.
    fn over(&mut self, relayed: u64) -> bool {
        let elapsed = self.start.elapsed();
        if self.cpu_at.is_none() && elapsed >= WARM_UP {
            self.cpu_at = Some(thread_cpu());
            self.relayed_at = relayed;
        }
        elapsed >= self.length
    }

    fn result(&self, relayed: u64) -> (Duration, u64) {
        let from = self.cpu_at.unwrap_or_default();
        (thread_cpu() - from, relayed - self.relayed_at)
    }
}

fn sockaddr(addr: SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// One iovec for each buffer, pointing at all of it.
fn iovecs(bufs: &mut [[u8; 2048]]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect()
}

/// Datagrams waiting on `fd`, into `msgs` without waiting: how many came (0 on an error).
fn receive(fd: i32, msgs: &mut [libc::mmsghdr]) -> usize {
    // SAFETY: every message points at its own buffer (and address, where it asks for one).
    let got = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            msgs.len() as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    got.max(0) as usize
}

/// With `connected`, each socket is connected to the sink and sends without an address.
fn relay_epoll(
    legs: &Legs,
    stop: &AtomicBool,
    length: Duration,
    connected: bool,
) -> (Duration, u64) {
    // SAFETY: plain epoll calls on sockets that outlive the loop.
    let epoll = unsafe { libc::epoll_create1(0) };
    for (i, s) in legs.sockets.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) };
    }
    let dest = sockaddr(legs.sink);
    const BATCH: usize = 16;
    let mut bufs = vec![[0u8; 2048]; BATCH];
    let mut iovs = iovecs(&mut bufs);
    // SAFETY: zeroed mmsghdr is valid; each points at its own iovec.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        .map(|i| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = &mut iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut window = Window::new(length);
    let mut relayed = 0u64;
    while !stop.load(Ordering::Relaxed) && !window.over(relayed) {
        let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 256, 100) };
        for ev in events.iter().take(n.max(0) as usize) {
            let i = ev.u64 as usize;
            let (fd, out) = (
                legs.sockets[i].as_raw_fd(),
                legs.sockets[legs.peer(i)].as_raw_fd(),
            );
            loop {
                let got = receive(fd, &mut msgs);
                for m in msgs.iter().take(got) {
                    let buf = unsafe { (*m.msg_hdr.msg_iov).iov_base };
                    let len = m.msg_len as usize;
                    unsafe {
                        if connected {
                            libc::send(out, buf, len, libc::MSG_DONTWAIT)
                        } else {
                            libc::sendto(
                                out,
                                buf,
                                len,
                                libc::MSG_DONTWAIT,
                                (&dest as *const libc::sockaddr_in).cast(),
                                std::mem::size_of::<libc::sockaddr_in>() as u32,
                            )
                        }
                    };
                    relayed += 1;
                }
                if got < BATCH {
                    break;
                }
            }
        }
    }
    let result = window.result(relayed);
    unsafe { libc::close(epoll) };
    result
}

/// How `relay_uring` sends what it received.
#[derive(Clone, Copy, PartialEq)]
enum Sends {
    /// Queued on the ring with the destination's address.
    Ring,
    /// Queued on the ring without an address, on sockets connected to the far end.
    RingConnected,
    /// At once, with `sendto`.
    Sendto,
}

fn relay_uring(legs: &Legs, stop: &AtomicBool, length: Duration, sends: Sends) -> (Duration, u64) {
    use io_uring::{opcode, types, IoUring};
    const SEND_SLOTS: usize = 16384;
    const SEND: u64 = 1 << 32;
    let sockets = legs.sockets.len();
    // Declared before the ring, so dropped after it: the kernel may hold them until then.
    let dest = sockaddr(legs.sink);
    let mut recv_bufs = vec![[0u8; 2048]; sockets];
    let mut send_bufs = vec![[0u8; PACKET]; SEND_SLOTS];
    let entries = (sockets + SEND_SLOTS).next_power_of_two().min(32768) as u32;
    let mut ring = IoUring::builder()
        .setup_cqsize(entries * 2)
        .build(entries)
        .expect("io_uring is available");
    let mut free: Vec<usize> = (0..SEND_SLOTS).collect();
    let recv = |i: usize, buf: &mut [u8; 2048], fd: i32| {
        opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32)
            .build()
            .user_data(i as u64)
    };
    for (i, s) in legs.sockets.iter().enumerate() {
        let sqe = recv(i, &mut recv_bufs[i], s.as_raw_fd());
        // SAFETY: the buffers live until the ring is dropped at the end of this function.
        unsafe { ring.submission().push(&sqe).expect("room for every socket") };
    }
    let mut window = Window::new(length);
    let mut relayed = 0u64;
    let timeout = types::Timespec::new().nsec(100_000_000);
    let args = types::SubmitArgs::new().timespec(&timeout);
    while !stop.load(Ordering::Relaxed) && !window.over(relayed) {
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => panic!("io_uring_enter: {e}"),
        }
        let done: Vec<(u64, i32)> = ring
            .completion()
            .map(|c: io_uring::cqueue::Entry| (c.user_data(), c.result()))
            .collect();
        for (data, result) in done {
            if data & SEND != 0 {
                free.push((data & !SEND) as usize);
                continue;
            }
            let i = data as usize;
            if result > 0 && sends == Sends::Sendto {
                let out = legs.sockets[legs.peer(i)].as_raw_fd();
                unsafe {
                    libc::sendto(
                        out,
                        recv_bufs[i].as_ptr().cast(),
                        result as usize,
                        libc::MSG_DONTWAIT,
                        (&dest as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    )
                };
                relayed += 1;
            } else if result > 0 {
                if let Some(slot) = free.pop() {
                    let len = (result as usize).min(PACKET);
                    send_bufs[slot][..len].copy_from_slice(&recv_bufs[i][..len]);
                    let out = legs.sockets[legs.peer(i)].as_raw_fd();
                    let send =
                        opcode::Send::new(types::Fd(out), send_bufs[slot].as_ptr(), len as u32);
                    // A connected socket keeps its route; an address given with each send
                    // makes the kernel look the route up again.
                    let send = match sends {
                        Sends::RingConnected => send,
                        _ => send
                            .dest_addr((&dest as *const libc::sockaddr_in).cast())
                            .dest_addr_len(std::mem::size_of::<libc::sockaddr_in>() as u32),
                    };
                    let sqe = send.build().user_data(SEND | slot as u64);
                    // SAFETY: the slot's buffer is not reused until its completion.
                    unsafe { ring.submission().push(&sqe).expect("room for a send") };
                    relayed += 1;
                }
            }
            let sqe = recv(i, &mut recv_bufs[i], legs.sockets[i].as_raw_fd());
            // SAFETY: as above.
            unsafe { ring.submission().push(&sqe).expect("room for a receive") };
        }
    }
    window.result(relayed)
}

/// One socket for every leg: each packet's leg is found from its source address, and
/// what comes in is taken and sent on in batches of up to 64, one system call each way.
fn relay_shared(
    legs: &Legs,
    socket: &UdpSocket,
    stop: &AtomicBool,
    length: Duration,
) -> (Duration, u64) {
    use std::collections::HashMap;
    const BATCH: usize = 64;
    // The far end of each leg, by its source address, as a real shared port would keep it.
    let leg_of: HashMap<SocketAddr, usize> = legs
        .sockets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.local_addr().unwrap(), i))
        .collect();
    let out_to: Vec<libc::sockaddr_in> = vec![sockaddr(legs.sink); legs.sockets.len()];
    let fd = socket.as_raw_fd();
    let mut bufs = vec![[0u8; 2048]; BATCH];
    // SAFETY: zeroed sockaddr_in and mmsghdr are valid values.
    let mut from: Vec<libc::sockaddr_in> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut iovs = iovecs(&mut bufs);
    let mut send_iovs = iovs.clone();
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        .map(|i| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = &mut iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (&mut from[i] as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            m
        })
        .collect();
    let mut sends: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    let mut window = Window::new(length);
    let mut relayed = 0u64;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    while !stop.load(Ordering::Relaxed) && !window.over(relayed) {
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 100) };
        loop {
            for m in msgs.iter_mut() {
                m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            }
            let got = receive(fd, &mut msgs);
            let mut n = 0;
            for k in 0..got {
                let source = SocketAddr::from((
                    u32::from_be(from[k].sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(from[k].sin_port),
                ));
                let Some(&leg) = leg_of.get(&source) else {
                    continue;
                };
                // Out to the far end of the other leg, from the same socket.
                let to: *const libc::sockaddr_in = &out_to[legs.peer(leg)];
                send_iovs[n].iov_base = iovs[k].iov_base;
                send_iovs[n].iov_len = msgs[k].msg_len as usize;
                let h = &mut sends[n].msg_hdr;
                h.msg_iov = &mut send_iovs[n];
                h.msg_iovlen = 1;
                // Only read by the send, as its `*mut` type does not say.
                h.msg_name = to.cast_mut().cast();
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                n += 1;
            }
            if n > 0 {
                // SAFETY: the first n messages point at received buffers and addresses.
                let sent =
                    unsafe { libc::sendmmsg(fd, sends.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT) };
                relayed += sent.max(0) as u64;
            }
            if got < BATCH {
                break;
            }
        }
    }
    window.result(relayed)
}
