//! Binding the SIP address: UDP and TCP on the same port.

use std::net::SocketAddr;

use tokio::net::{TcpListener, UdpSocket};

use super::RuntimeError;

/// The SIP listening sockets, bound before the server starts (tests bind port 0).
pub struct Sockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
    /// The HTTP listener (QA console and API), if this server serves one.
    pub http: Option<TcpListener>,
    /// The SIP over TLS listener (`sip.tls_listen`), if TLS is served.
    pub tls: Option<TcpListener>,
}

impl Sockets {
    /// Bind UDP and TCP on `addr`. With port 0 the UDP port is chosen by the system and TCP
    /// takes the same number (retrying a few times if that TCP port happens to be taken).
    pub async fn bind(addr: SocketAddr) -> Result<Sockets, RuntimeError> {
        let bind_err = |source| RuntimeError::Bind { addr, source };
        for _ in 0..16 {
            let udp = UdpSocket::bind(addr).await.map_err(bind_err)?;
            let port = udp.local_addr().map_err(bind_err)?.port();
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
                Ok(tcp) => {
                    return Ok(Sockets {
                        udp,
                        tcp,
                        http: None,
                        tls: None,
                    })
                }
                Err(e) if addr.port() != 0 => return Err(bind_err(e)),
                Err(_) => continue,
            }
        }
        Err(bind_err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no port free for both UDP and TCP",
        )))
    }

    /// Also listen for HTTP on `addr` (port 0: any free port).
    pub async fn with_http(mut self, addr: SocketAddr) -> Result<Sockets, RuntimeError> {
        let http = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::Bind { addr, source })?;
        self.http = Some(http);
        Ok(self)
    }

    /// Also listen for SIP over TLS on `addr` (port 0: any free port).
    pub async fn with_tls(mut self, addr: SocketAddr) -> Result<Sockets, RuntimeError> {
        let tls = TcpListener::bind(addr)
            .await
            .map_err(|source| RuntimeError::Bind { addr, source })?;
        self.tls = Some(tls);
        Ok(self)
    }

    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.udp
            .local_addr()
            .expect("a bound socket has an address")
    }
}
