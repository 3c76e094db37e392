//! Media, sans-IO: the codecs ([`Codec`]), G.711 ([`g711`]), RTP helpers ([`rtp`]), prompt
//! playback ([`player`]), DTMF input ([`dtmf`]), symmetric-RTP latching ([`latch`]), one direction of a bridge
//! ([`relay`]), and the stereo recording of a conversation into a WAV file ([`stereo`]).
//! The runtime's media tasks and recorder threads wrap these in sockets and files.

pub mod analysis;
mod codec;
pub mod dtmf;
pub mod g711;
pub mod latch;
pub mod player;
pub mod relay;
pub mod rtp;
pub mod srtp;
pub mod stereo;

pub use codec::Codec;

/// Which side of a call a stream belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The caller, through the trunk.
    Caller,
    /// The operator's softphone.
    Operator,
}
