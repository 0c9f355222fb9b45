import Foundation
import Logging
import NIOCore

/// Sends email over SMTP (RFC 5321): EHLO (HELO for old servers), STARTTLS and AUTH PLAIN/LOGIN as
/// configured, MAIL/RCPT/DATA with dot-stuffing, QUIT. One connection per `send`, which suits an outbox
/// worker that sends a message, records the outcome and moves on.
///
/// Every failure is an `SMTPError` whose `isPermanent` says whether the outbox should retry.
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(
        configuration: SMTPConfiguration, group: any EventLoopGroup, logger: Logger = Logger(label: "recharge.smtp")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Sends a message to every To, Cc and Bcc address, with From as the envelope sender.
    public func send(_ message: MailMessage) async throws -> SMTPDelivery {
        try await send(
            rendered: message.rendered(), from: message.from.address, to: message.envelopeRecipients)
    }

    /// Sends an already rendered message. Line breaks are normalised to CRLF and lines starting with a dot
    /// are dot-stuffed here, so `rendered` can be any RFC 5322 text.
    public func send(rendered: String, from sender: String, to recipients: [String]) async throws -> SMTPDelivery {
        let connection = try await SMTPConnection.open(configuration: configuration, group: group)
        do {
            let delivery = try await converse(
                connection, rendered: rendered, sender: sender, recipients: recipients)
            _ = try? await connection.command("QUIT", stage: .quit, timeout: configuration.replyTimeout)
            await connection.close()
            return delivery
        } catch {
            // Ending the transaction politely is worth a try; the server may hold resources for it.
            if (error as? SMTPError).map(\.isPermanent) == true || error is SMTPError {
                _ = try? await connection.command("QUIT", stage: .quit, timeout: .seconds(2))
            }
            await connection.close()
            logger.warning("SMTP send failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private func converse(
        _ connection: SMTPConnection, rendered: String, sender: String, recipients: [String]
    ) async throws -> SMTPDelivery {
        let timeout = configuration.replyTimeout
        let greeting = try await connection.nextReply(stage: .greeting, timeout: timeout)
        try expect(greeting, at: .greeting, codes: [220])

        var hello = try await sayHello(connection)
        switch configuration.security {
        case .startTLS(let tls), .startTLSIfOffered(let tls):
            if hello.extensions["STARTTLS"] != nil {
                let reply = try await connection.command("STARTTLS", stage: .startTLS, timeout: timeout)
                try expect(reply, at: .startTLS, codes: [220])
                try await connection.startTLS(tls, serverName: configuration.serverNameForTLS)
                // RFC 3207 §4.2: everything learnt before TLS is forgotten, so EHLO again.
                hello = try await sayHello(connection)
            } else if case .startTLS = configuration.security {
                throw SMTPError.startTLSNotOffered
            }
        case .plain, .implicitTLS:
            break
        }

        if let credentials = configuration.credentials {
            try await authenticate(connection, credentials: credentials, offered: hello.extensions["AUTH"] ?? [])
        }

        let mail = try await connection.command("MAIL FROM:<\(sender)>", stage: .mailFrom, timeout: timeout)
        try expect(mail, at: .mailFrom, codes: [250])

        var accepted: [String] = []
        var rejected: [String: SMTPReply] = [:]
        for recipient in recipients {
            let reply = try await connection.command(
                "RCPT TO:<\(recipient)>", stage: .rcptTo(recipient), timeout: timeout)
            if reply.code == 250 || reply.code == 251 {
                accepted.append(recipient)
            } else {
                rejected[recipient] = reply
            }
        }
        guard !accepted.isEmpty else {
            _ = try? await connection.command("RSET", stage: .mailFrom, timeout: timeout)
            throw SMTPError.allRecipientsRejected(rejected)
        }

        let data = try await connection.command("DATA", stage: .data, timeout: timeout)
        try expect(data, at: .data, codes: [354])
        try await connection.write(Self.dotStuffed(rendered), stage: .message)
        let done = try await connection.nextReply(stage: .message, timeout: configuration.dataTimeout)
        try expect(done, at: .message, codes: [250])
        return SMTPDelivery(reply: done, acceptedRecipients: accepted, rejectedRecipients: rejected)
    }

    private func sayHello(_ connection: SMTPConnection) async throws -> SMTPReply {
        let ehlo = try await connection.command(
            "EHLO \(configuration.heloName)", stage: .ehlo, timeout: configuration.replyTimeout)
        if ehlo.isPositiveCompletion { return ehlo }
        guard ehlo.isPermanentNegative else { throw SMTPError.rejected(stage: .ehlo, reply: ehlo) }
        // A server that does not know EHLO: plain SMTP, no extensions.
        let helo = try await connection.command(
            "HELO \(configuration.heloName)", stage: .helo, timeout: configuration.replyTimeout)
        try expect(helo, at: .helo, codes: [250])
        return SMTPReply(code: helo.code, lines: [helo.lines.first ?? ""])
    }

    private func authenticate(
        _ connection: SMTPConnection, credentials: SMTPConfiguration.Credentials, offered: [String]
    ) async throws {
        let timeout = configuration.replyTimeout
        let mechanism: SMTPConfiguration.AuthMechanism
        if let forced = configuration.authMechanism, offered.contains(forced.rawValue) {
            mechanism = forced
        } else if configuration.authMechanism == nil, offered.contains("PLAIN") {
            mechanism = .plain
        } else if configuration.authMechanism == nil, offered.contains("LOGIN") {
            mechanism = .login
        } else {
            throw SMTPError.authenticationNotOffered(offered: offered)
        }
        switch mechanism {
        case .plain:
            // RFC 4616: authorization id (empty), NUL, user, NUL, password.
            let token = Data(([0] + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8)))
                .base64EncodedString()
            let reply = try await connection.command("AUTH PLAIN \(token)", stage: .auth, timeout: timeout)
            try expect(reply, at: .auth, codes: [235])
        case .login:
            let start = try await connection.command("AUTH LOGIN", stage: .auth, timeout: timeout)
            try expect(start, at: .auth, codes: [334])
            let user = try await connection.command(
                Data(credentials.username.utf8).base64EncodedString(), stage: .auth, timeout: timeout)
            try expect(user, at: .auth, codes: [334])
            let password = try await connection.command(
                Data(credentials.password.utf8).base64EncodedString(), stage: .auth, timeout: timeout)
            try expect(password, at: .auth, codes: [235])
        }
    }

    private func expect(_ reply: SMTPReply, at stage: SMTPStage, codes: Set<Int>) throws {
        guard codes.contains(reply.code) else { throw SMTPError.rejected(stage: stage, reply: reply) }
    }

    /// The DATA payload: CRLF line breaks, a dot doubled at the start of any line (RFC 5321 §4.5.2), and the
    /// terminating `CRLF . CRLF`.
    public static func dotStuffed(_ message: String) -> String {
        let normalized = MIMEEncoding.normalizingLineBreaks(message)
        var lines = normalized.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        var output = ""
        output.reserveCapacity(normalized.utf8.count + 8)
        for line in lines {
            if line.hasPrefix(".") { output += "." }
            output += line
            output += "\r\n"
        }
        return output + ".\r\n"
    }
}
