//! Calls from the registered provider: the runtime resolves the registrar's (and the
//! outbound proxy's) address and tells the switchboard, whose door then lets INVITEs from
//! there in when they are for the user part we registered, whatever `trunk.allow` says,
//! and whose rate limits treat them as the trunk.

use std::net::IpAddr;

use super::{trunk_sources, Switchboard};

impl Switchboard {
    /// The provider's addresses as resolved now (empty: none known).
    pub fn set_provider_sources(&mut self, sources: Vec<IpAddr>) {
        self.provider_sources = sources;
        self.ua.set_rate_limits(
            self.settings.limits.rates,
            trunk_sources(&self.settings, &self.provider_sources),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::path::Path;

    use crate::config::Config;
    use crate::media::Codec;
    use crate::sip::session_timer::UasAnswer;
    use crate::switchboard::door::{Door, Knock, Refusal};

    const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 17000 RTP/AVP 0\r\n";

    fn config() -> Config {
        let text = r#"
[trunk]
allow = ["10.9.9.9/32"]
[trunk.provider]
registrar = "sip:127.0.0.2:5060"
username = "78112792112"
password = "p"
"#;
        Config::from_toml(text, Path::new("t.toml"), &[]).unwrap()
    }

    fn decide(source: &str, dialed: &str, provider: &[IpAddr]) -> Result<(), Refusal> {
        let config = config();
        let door = Door {
            trunk: &config.trunk,
            calendar: &config.hours.calendar,
            codecs: &[Codec::Pcmu],
            draining: false,
            full: false,
            provider_sources: provider,
        };
        let knock = Knock {
            source_ip: source.parse().unwrap(),
            dialed: Some(dialed),
            max_forwards: Some(70),
            sdp: Some(OFFER),
            session_timer: UasAnswer::NoTimer,
            now: "2026-12-01T09:00:00Z".parse().unwrap(),
        };
        door.decide(&knock).map(|_| ())
    }

    #[test]
    fn the_registered_provider_is_let_in_for_our_registered_user() {
        let provider = ["127.0.0.2".parse().unwrap()];
        assert_eq!(decide("127.0.0.2", "78112792112", &provider), Ok(()));
        assert_eq!(decide("127.0.0.2", "792112", &provider), Ok(()));
        assert_eq!(
            decide("127.0.0.2", "999", &provider),
            Err(Refusal::NotOurNumber)
        );
    }

    #[test]
    fn others_still_need_trunk_allow_and_our_numbers() {
        let provider = ["127.0.0.2".parse().unwrap()];
        assert_eq!(
            decide("127.0.0.3", "78112792112", &provider),
            Err(Refusal::SourceNotAllowed)
        );
        assert_eq!(
            decide("127.0.0.2", "78112792112", &[]),
            Err(Refusal::SourceNotAllowed),
            "not before the runtime has resolved the provider"
        );
        assert_eq!(
            decide("10.9.9.9", "78112792112", &provider),
            Err(Refusal::NotOurNumber),
            "the registered user is the provider's, not any trunk's"
        );
        assert_eq!(decide("10.9.9.9", "792112", &provider), Ok(()));
    }
}
