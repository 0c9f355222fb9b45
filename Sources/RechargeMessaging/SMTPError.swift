/// A step of an SMTP transaction, named in errors so a failure says where it happened.
public enum SMTPStage: Sendable, Hashable, CustomStringConvertible {
    case connect, greeting, ehlo, helo, startTLS, auth, mailFrom, rcptTo(String), data, message, quit

    public var description: String {
        switch self {
        case .connect: "connect"
        case .greeting: "greeting"
        case .ehlo: "EHLO"
        case .helo: "HELO"
        case .startTLS: "STARTTLS"
        case .auth: "AUTH"
        case .mailFrom: "MAIL FROM"
        case .rcptTo(let address): "RCPT TO <\(address)>"
        case .data: "DATA"
        case .message: "end of data"
        case .quit: "QUIT"
        }
    }
}

/// Why an email was not sent. `isPermanent` tells the outbox whether to retry: 5xx replies and
/// configuration mismatches are permanent; 4xx replies, timeouts and broken connections are transient.
public enum SMTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with a negative reply.
    case rejected(stage: SMTPStage, reply: SMTPReply)
    /// Every recipient was refused; the first refusal decides whether it is permanent.
    case allRecipientsRejected([String: SMTPReply])
    case connectionFailed(String)
    case timeout(stage: SMTPStage)
    case connectionClosed(stage: SMTPStage)
    case malformedReply(String)
    /// TLS was required but the server does not offer STARTTLS.
    case startTLSNotOffered
    /// Credentials are configured but the server offers no mechanism this client speaks.
    case authenticationNotOffered(offered: [String])
    case tlsFailed(String)

    public var isPermanent: Bool {
        switch self {
        case .rejected(_, let reply): reply.isPermanentNegative
        case .allRecipientsRejected(let replies): replies.values.allSatisfy(\.isPermanentNegative)
        case .startTLSNotOffered, .authenticationNotOffered, .tlsFailed: true
        // A reply that is neither 4xx nor 5xx at a step that needs 2xx/3xx is a broken server, not a verdict.
        case .connectionFailed, .timeout, .connectionClosed, .malformedReply: false
        }
    }

    public var isTransient: Bool { !isPermanent }

    public var description: String {
        switch self {
        case .rejected(let stage, let reply): "\(stage) rejected: \(reply)"
        case .allRecipientsRejected(let replies):
            "all recipients rejected: " + replies.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .timeout(let stage): "timed out waiting at \(stage)"
        case .connectionClosed(let stage): "connection closed at \(stage)"
        case .malformedReply(let line): "malformed reply: \(line)"
        case .startTLSNotOffered: "server does not offer STARTTLS"
        case .authenticationNotOffered(let offered): "no usable AUTH mechanism (offered: \(offered))"
        case .tlsFailed(let reason): "TLS failed: \(reason)"
        }
    }
}
