//! What the switchboard takes from the configuration: the values it decides with, turned
//! into the types of the layers below (codecs, timers, registrar accounts).

use std::net::{IpAddr, SocketAddr};

use crate::calendar::BusinessCalendar;
use crate::config::{
    CodecName, Config, LimitsConfig, MenuConfig, OperatorConfig, OperatorSecret, QueueConfig,
    TrunkConfig,
};
use crate::media::Codec;
use crate::sip::digest::Algorithm;
use crate::sip::registrar::{Account, AccountSecret};
use crate::sip::session_timer::SessionTimerPolicy;
use crate::sip::transaction::TimerConfig;

/// What the switchboard needs from the configuration, fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address peers reach our SIP service at (public address, listen port): used in
    /// Contact and Via.
    pub sip_addr: SocketAddr,
    /// The port of `sip.tls_listen`, if SIP over TLS is served.
    pub tls_port: Option<u16>,
    /// Whether a TLS leg must use SRTP (`sip.srtp`).
    pub srtp: crate::config::SrtpPolicy,
    /// The address written into SDP for our RTP.
    pub media_ip: IpAddr,
    pub user_agent: String,
    pub timers: TimerConfig,
    pub trunk: TrunkConfig,
    pub calendar: BusinessCalendar,
    pub codecs: Vec<Codec>,
    /// Phone numbers are personal data: masked in logs unless this is set.
    pub show_numbers: bool,
    pub queue: QueueConfig,
    pub operators: Vec<OperatorConfig>,
    /// Digest realm for operators' softphones.
    pub realm: String,
    pub digest_algorithms: Vec<Algorithm>,
    /// RFC 4028 session timers: our minimum and the longest interval we grant.
    pub session_timer: SessionTimerPolicy,
    /// How much the line takes: calls, waiting callers, per-source rates.
    pub limits: LimitsConfig,
    /// Password-guessing limits on operators' logins.
    pub auth_guard: crate::sip::registrar::guard::GuardPolicy,
    /// The topic menu after the recording notice.
    pub menu: MenuConfig,
    /// The meter-readings dialogue the menu's readings key starts.
    pub readings: crate::config::ReadingsConfig,
}

impl Settings {
    /// The queue's rules: `[queue]`, `limits.max_waiting` and `[menu] skill_wait`.
    pub(super) fn acd_config(&self) -> super::AcdConfig {
        super::AcdConfig {
            max_waiting: self.limits.max_waiting as usize,
            skill_wait: self.menu.skill_wait,
            ..super::AcdConfig::from_queue(&self.queue)
        }
    }

    /// Each operator's skills, for the queue.
    pub(super) fn operator_skills(&self) -> std::collections::HashMap<String, Vec<String>> {
        self.operators
            .iter()
            .map(|o| (o.id.clone(), o.skills.clone()))
            .collect()
    }

    pub fn from_config(config: &Config) -> Settings {
        let listen = config.sip.listen;
        let ip = config.sip.public_address;
        Settings {
            sip_addr: SocketAddr::new(ip, listen.port()),
            tls_port: config.sip.tls.as_ref().map(|t| t.listen.port()),
            srtp: config.sip.srtp,
            media_ip: ip,
            user_agent: config.sip.user_agent.clone(),
            timers: TimerConfig {
                t1: config.sip.t1,
                t2: config.sip.t2,
                t4: config.sip.t4,
            },
            trunk: config.trunk.clone(),
            calendar: config.hours.calendar.clone(),
            codecs: config
                .media
                .codecs
                .iter()
                .map(|c| match c {
                    CodecName::Pcmu => Codec::Pcmu,
                    CodecName::Pcma => Codec::Pcma,
                })
                .collect(),
            show_numbers: config.log.show_numbers,
            queue: config.queue.clone(),
            operators: config.operators.clone(),
            realm: config.sip.realm.clone(),
            digest_algorithms: config.sip.digest_algorithms.clone(),
            session_timer: SessionTimerPolicy::default(),
            limits: config.limits.clone(),
            auth_guard: config.sip.auth_guard.clone(),
            menu: config.menu.clone(),
            readings: config.readings.clone(),
        }
    }
}

impl From<&OperatorConfig> for Account {
    /// The configuration validates HA1s as 32 (MD5) or 64 (SHA-256) hex digits; the
    /// length tells the algorithm.
    fn from(op: &OperatorConfig) -> Account {
        let secret = match &op.secret {
            OperatorSecret::Password(p) => AccountSecret::Password(p.clone()),
            OperatorSecret::Ha1(hex) => AccountSecret::Ha1 {
                algorithm: if hex.len() == Algorithm::Sha256.hex_len() {
                    Algorithm::Sha256
                } else {
                    Algorithm::Md5
                },
                hex: hex.to_ascii_lowercase(),
            },
        };
        Account {
            id: op.id.clone(),
            name: op.name.clone(),
            secret,
        }
    }
}
