import NIOSSL

/// Where the SMTP server is and how to talk to it.
public struct SMTPConfiguration: Sendable {
    /// How the connection is protected.
    public enum Security: Sendable {
        /// Plain text throughout (a local relay, or tests).
        case plain
        /// STARTTLS when the server offers it, plain text otherwise.
        case startTLSIfOffered(TLSConfiguration)
        /// STARTTLS or fail with `SMTPError.startTLSNotOffered` (submission on port 587).
        case startTLS(TLSConfiguration)
        /// TLS from the first byte (submissions on port 465).
        case implicitTLS(TLSConfiguration)
    }

    /// Login for AUTH PLAIN (preferred) or AUTH LOGIN.
    public struct Credentials: Sendable, Hashable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// SASL mechanisms this client speaks.
    public enum AuthMechanism: String, Sendable, Hashable {
        case plain = "PLAIN"
        case login = "LOGIN"
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// Name checked against the certificate; defaults to `host` unless that is an IP address, in which case
    /// the certificate must carry the address itself.
    public var tlsServerName: String?
    public var credentials: Credentials?
    /// Forces one mechanism; nil takes PLAIN when offered, else LOGIN.
    public var authMechanism: AuthMechanism?
    /// The name this client gives in EHLO/HELO.
    public var heloName: String
    public var connectTimeout: Duration = .seconds(10)
    /// How long to wait for each reply; RFC 5321 §4.5.3.2 allows servers minutes, the outbox would rather retry.
    public var replyTimeout: Duration = .seconds(60)
    /// How long to wait for the reply after the final dot, when the server may be scanning the message.
    public var dataTimeout: Duration = .seconds(120)

    public init(
        host: String, port: Int = 587, security: Security = .plain, credentials: Credentials? = nil,
        heloName: String = "localhost"
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.credentials = credentials
        self.heloName = heloName
    }
}

/// What the server said about one message.
public struct SMTPDelivery: Sendable, Hashable {
    /// The server's reply to the end of data (often names the queue id).
    public var reply: SMTPReply
    public var acceptedRecipients: [String]
    /// Recipients refused while others were accepted, with the refusal.
    public var rejectedRecipients: [String: SMTPReply]
}
