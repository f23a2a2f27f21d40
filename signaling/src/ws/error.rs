//! Protocol violations by the peer, each mapped to the one close code RFC 6455 §7.4.1 assigns it.

use thiserror::Error;

use super::close_code::CloseCode;

/// Why the connection must be failed (RFC 6455 §7.1.7). The variant decides the close code sent.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    #[error("RSV bits set without a negotiated extension")]
    ReservedBits,
    #[error("client frame is not masked")]
    UnmaskedFrame,
    #[error("fragmented control frame")]
    FragmentedControl,
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    #[error("64-bit payload length with the most significant bit set")]
    LengthOverflow,
    #[error("continuation frame with no message to continue")]
    UnexpectedContinuation,
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    #[error("close frame with a 1-byte payload")]
    CloseTooShort,
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    #[error("message exceeds the size limit")]
    MessageTooBig,
    /// Not the peer's fault alone: every connection's unfinished messages together hold the
    /// server's budget for them (`--inbound-total-bytes`). The peer may try again later.
    #[error("the server is holding too many unfinished messages; try again later")]
    BudgetExhausted,
}

impl ProtocolError {
    /// The close code to send when failing the connection for this error.
    pub fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            ProtocolError::MessageTooBig => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::BudgetExhausted => CloseCode::TRY_AGAIN_LATER,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short label for logs and the `reason` label of the close metric.
    pub fn label(self) -> &'static str {
        match self {
            ProtocolError::ReservedOpcode(_) => "reserved_opcode",
            ProtocolError::ReservedBits => "reserved_bits",
            ProtocolError::UnmaskedFrame => "unmasked_frame",
            ProtocolError::FragmentedControl => "fragmented_control",
            ProtocolError::ControlTooLong => "control_too_long",
            ProtocolError::LengthOverflow => "length_overflow",
            ProtocolError::UnexpectedContinuation => "unexpected_continuation",
            ProtocolError::ExpectedContinuation => "expected_continuation",
            ProtocolError::CloseTooShort => "close_too_short",
            ProtocolError::InvalidCloseCode(_) => "invalid_close_code",
            ProtocolError::InvalidUtf8 => "invalid_utf8",
            ProtocolError::MessageTooBig => "message_too_big",
            ProtocolError::BudgetExhausted => "inbound_budget",
        }
    }
}
