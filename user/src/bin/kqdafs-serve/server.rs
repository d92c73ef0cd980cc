// SPDX-License-Identifier: BSD-2-Clause
//! The event loop (FreeBSD).

use crate::proto::{self, Get, LineBuf};
use kqdafs_user::{Batch, Completion, DeviceKaio, Errno, Event, Kaio, KaioBuf, Kqueue};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;

/// `udata` of the listening socket's events; clients get 1, 2, ...
const LISTENER: u64 = 0;

/// What travels with each KAIO read: where its reply goes, and the file,
/// kept open until the read completes.
struct Tag {
    conn: u64,
    seq: u64,
    _file: File,
}

/// One reply, in request order.
enum Slot {
    /// The read is in flight.
    Waiting,
    /// Ready to send: header, then the body's content.
    Ready { header: Vec<u8>, body: Option<KaioBuf> },
}

struct Conn {
    stream: TcpStream,
    lines: LineBuf,
    /// Replies not yet fully written; the front one is `base_seq`.
    replies: VecDeque<Slot>,
    base_seq: u64,
    /// Bytes of the front reply already written (header then body).
    sent: usize,
    /// The client closed its side (or sent garbage): close when drained.
    closing: bool,
    write_watched: bool,
}

/// Totals, printed at exit.
#[derive(Debug, Default)]
pub struct Stats {
    /// Clients served.
    pub clients: u64,
    /// GET requests answered `OK`.
    pub reads: u64,
    /// Bytes sent as bodies.
    pub bytes: u64,
    /// Requests answered `ERR`.
    pub errors: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} clients, {} reads, {} bytes, {} errors", self.clients, self.reads, self.bytes, self.errors)
    }
}

struct Server<'a> {
    kq: Kqueue,
    kaio: DeviceKaio<Tag>,
    listener: TcpListener,
    root: &'a Path,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    stats: Stats,
}

/// Serve until `max_clients` clients have come and gone (forever if
/// `None`), then wait for the reads still in flight.
pub fn serve(listener: TcpListener, root: &Path, max_clients: Option<u64>) -> Result<Stats, String> {
    listener.set_nonblocking(true).map_err(|e| format!("listener: {e}"))?;
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let kaio = Kaio::open().map_err(|e| e.to_string())?;
    kq.watch_read(listener.as_raw_fd(), LISTENER).map_err(|e| format!("kevent: {e}"))?;
    let mut s = Server { kq, kaio, listener, root, conns: HashMap::new(), next_conn: 1, stats: Stats::default() };
    let mut events = vec![Event::default(); 64];
    loop {
        let done = max_clients.is_some_and(|m| s.stats.clients >= m);
        if done && s.conns.is_empty() && s.kaio.in_flight() == 0 {
            return Ok(s.stats);
        }
        let n = s.kq.poll(&mut events, None).map_err(|e| format!("kevent: {e}"))?;
        for ev in &events[..n] {
            s.dispatch(ev);
        }
    }
}

impl Server<'_> {
    fn dispatch(&mut self, ev: &Event) {
        if self.kaio.is_kaio_event(ev) {
            if let Ok(done) = self.kaio.complete(ev) {
                self.completed(done);
            }
            return;
        }
        match (ev.udata, ev.filter) {
            (LISTENER, _) => self.accept(),
            (conn, libc::EVFILT_READ) => self.readable(conn),
            (conn, libc::EVFILT_WRITE) => self.flush(conn),
            _ => {}
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let id = self.next_conn;
                    self.next_conn += 1;
                    if stream.set_nonblocking(true).is_err() || self.kq.watch_read(stream.as_raw_fd(), id).is_err() {
                        continue;
                    }
                    let conn = Conn {
                        stream,
                        lines: LineBuf::default(),
                        replies: VecDeque::new(),
                        base_seq: 0,
                        sent: 0,
                        closing: false,
                        write_watched: false,
                    };
                    self.conns.insert(id, conn);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Read what the client sent; submit the reads of every complete line
    /// in one batch.
    fn readable(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    conn.closing = true;
                    break;
                }
                Ok(n) => conn.lines.extend(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    conn.closing = true;
                    break;
                }
            }
        }
        let mut batch = Batch::new(self.kq.as_raw_fd());
        while let Some(line) = conn.lines.next_line() {
            let seq = conn.base_seq + conn.replies.len() as u64;
            let slot = match line.map_err(|_| (Errno::EINVAL, "line too long")) {
                Err((e, text)) => {
                    conn.closing = true;
                    error_slot(&mut self.stats, e, text)
                }
                Ok(line) => match proto::parse_line(&line) {
                    Err(pe) => error_slot(&mut self.stats, Errno::EINVAL, pe.text()),
                    Ok(get) => match open_for(self.root, &get) {
                        Err(e) => error_slot(&mut self.stats, e, "open failed"),
                        Ok((file, buf)) => {
                            let fd = file.as_raw_fd();
                            let len = buf.capacity();
                            batch.read(fd, get.offset, len, buf, Tag { conn: id, seq, _file: file });
                            Slot::Waiting
                        }
                    },
                },
            };
            conn.replies.push_back(slot);
            if conn.closing {
                break;
            }
        }
        if !batch.is_empty() {
            for res in self.kaio.submit(batch) {
                if let Err(refused) = res {
                    self.stats.errors += 1;
                    let reply =
                        Slot::Ready { header: proto::err_line(refused.errno.raw(), "submit refused"), body: None };
                    self.fill(refused.user.conn, refused.user.seq, reply);
                }
            }
        }
        self.flush(id);
    }

    fn completed(&mut self, done: Completion<Tag>) {
        let reply = match done.outcome {
            Ok(n) => {
                self.stats.reads += 1;
                self.stats.bytes += n as u64;
                Slot::Ready { header: proto::ok_header(n), body: done.buf }
            }
            Err(e) => {
                self.stats.errors += 1;
                Slot::Ready { header: proto::err_line(e.raw(), "read failed"), body: None }
            }
        };
        self.fill(done.user.conn, done.user.seq, reply);
        self.flush(done.user.conn);
    }

    /// Put a reply in its place (a closed connection's is dropped: the
    /// buffer came back from the kernel, so freeing it is safe).
    fn fill(&mut self, conn: u64, seq: u64, reply: Slot) {
        if let Some(c) = self.conns.get_mut(&conn) {
            let index = seq.checked_sub(c.base_seq).and_then(|i| usize::try_from(i).ok());
            if let Some(slot) = index.and_then(|i| c.replies.get_mut(i)) {
                *slot = reply;
            }
        }
    }

    /// Write ready replies in order; watch for writability when the socket
    /// is full; close a finished connection.
    fn flush(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let mut broken = false;
        while let Some(Slot::Ready { header, body }) = conn.replies.front() {
            let body: &[u8] = body.as_deref().unwrap_or(&[]);
            let total = header.len() + body.len();
            while conn.sent < total {
                let chunk =
                    if conn.sent < header.len() { &header[conn.sent..] } else { &body[conn.sent - header.len()..] };
                match conn.stream.write(chunk) {
                    Ok(0) => broken = true,
                    Ok(n) => conn.sent += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => broken = true,
                }
                if broken {
                    break;
                }
            }
            if broken || conn.sent < total {
                break;
            }
            conn.replies.pop_front();
            conn.base_seq += 1;
            conn.sent = 0;
        }
        let blocked = !broken && matches!(conn.replies.front(), Some(Slot::Ready { .. }));
        if blocked != conn.write_watched && self.kq.watch_write(conn.stream.as_raw_fd(), id, blocked).is_ok() {
            conn.write_watched = blocked;
        }
        if broken || (conn.closing && conn.replies.is_empty()) {
            // Reads still in flight for it complete later and are dropped.
            self.conns.remove(&id);
            self.stats.clients += 1;
        }
    }
}

fn error_slot(stats: &mut Stats, e: Errno, text: &str) -> Slot {
    stats.errors += 1;
    Slot::Ready { header: proto::err_line(e.raw(), text), body: None }
}

/// Open the file a GET names and a buffer for it.
fn open_for(root: &Path, get: &Get) -> Result<(File, KaioBuf), Errno> {
    let path = proto::resolve(root, &get.path).ok_or(Errno::EINVAL)?;
    let file = File::open(path).map_err(|e| Errno::from_io(&e))?;
    let len = usize::try_from(get.len).map_err(|_| Errno::EINVAL)?;
    Ok((file, KaioBuf::aligned(len)?))
}
