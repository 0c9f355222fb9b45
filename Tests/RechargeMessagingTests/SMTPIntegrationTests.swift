import Foundation
import NIOPosix
import NIOSSL
import Testing

@testable import RechargeMessaging

/// Against aiosmtpd (PyPI) started by scripts/start-peers; reads back what the server stored and parses it
/// with Python's email package.
@Suite(
    "SMTP against aiosmtpd",
    .enabled(if: PeerEnvironment.smtpConfigured, "set by `eval \"$(scripts/start-peers)\"`: RECHARGE_TEST_SMTP …"),
    .serialized)
struct SMTPIntegrationTests {
    let credentials = SMTPConfiguration.Credentials(username: "recharge", password: "s3cret-密码")

    func configuration(_ security: SMTPConfiguration.Security = .plain, auth: Bool = true) -> SMTPConfiguration {
        let (host, port) = PeerEnvironment.smtp!
        var configuration = SMTPConfiguration(
            host: host, port: port, security: security, credentials: auth ? credentials : nil,
            heloName: "recharge.test")
        configuration.replyTimeout = .seconds(10)
        return configuration
    }

    func client(_ configuration: SMTPConfiguration) -> SMTPClient {
        SMTPClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
    }

    /// The sink's record of the message whose Message-ID contains `token`, and the parsed message.
    func received(_ token: String) async throws -> (record: [String: Any], parsed: [String: Any])? {
        let directory = PeerEnvironment.smtpDirectory!
        return try await eventually {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
                let record = try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) as! [String: Any]
                let eml = directory + "/" + (record["eml"] as! String)
                guard let raw = FileManager.default.contents(atPath: eml),
                    String(decoding: raw, as: UTF8.self).contains(token)
                else { continue }
                let output = try PeerEnvironment.run(
                    PeerEnvironment.python!,
                    [PeerEnvironment.root.appendingPathComponent("scripts/peers/read_mail.py").path, eml])
                return (record, try JSONSerialization.jsonObject(with: output) as! [String: Any])
            }
            return nil
        }
    }

    func chineseMessage(_ token: String, to: [MailAddress]) -> MailMessage {
        MailMessage(
            from: MailAddress("noreply@recharge.example", displayName: "Recharge 充值中心"), to: to,
            subject: "充值成功：您的账户已到账 ¥100.00，有效期延长至 2026年12月23日（订单 \(token)）",
            textBody: "您好，\n您的充值已到账。\n.\n余额：¥100.00\nA line that starts with a dot follows:\n.hidden\n",
            htmlBody: "<html><body><p>您好，</p><p>您的充值已到账。余额：<b>¥100.00</b></p></body></html>",
            date: Date(), messageID: "\(token)@recharge.example")
    }

    @Test func multipartChineseMessageWithAuthPlainArrivesIntact() async throws {
        let token = PeerEnvironment.unique()
        let message = chineseMessage(token, to: [MailAddress("zhang.wei@example.com", displayName: "张伟")])
        let delivery = try await client(configuration()).send(message)
        #expect(delivery.reply.code == 250)
        #expect(delivery.acceptedRecipients == ["zhang.wei@example.com"])

        let (record, parsed) = try #require(try await received(token))
        #expect(record["mail_from"] as? String == "noreply@recharge.example")
        #expect(record["rcpt_tos"] as? [String] == ["zhang.wei@example.com"])
        #expect(record["auth"] as? String == "recharge")
        #expect(record["tls"] as? Bool == false)

        #expect(parsed["subject"] as? String == message.subject)
        #expect(parsed["from_display_name"] as? String == "Recharge 充值中心")
        #expect(parsed["to_display_names"] as? [String] == ["张伟"])
        #expect(parsed["message_id"] as? String == "<\(token)@recharge.example>")
        #expect(parsed["mime_version"] as? String == "1.0")
        #expect(parsed["content_type"] as? String == "multipart/alternative")
        #expect((parsed["defects"] as? [Any])?.isEmpty == true)
        #expect(parsed["has_bare_lf"] as? Bool == false)
        #expect(parsed["all_ascii"] as? Bool == true)
        #expect((parsed["longest_line"] as? Int ?? 999) <= 78)

        let parts = try #require(parsed["parts"] as? [[String: Any]])
        #expect(parts.map { $0["content_type"] as? String } == ["text/plain", "text/html"])
        let text = (parts[0]["content"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(text == message.textBody)
        let html = (parts[1]["content"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(html == message.htmlBody)
    }

    @Test func startTLSWithVerifiedCertificateAndAuthLogin() async throws {
        let ca = try #require(PeerEnvironment.smtpCA)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(ca)
        var configuration = configuration(.startTLS(tls))
        configuration.authMechanism = .login
        let token = PeerEnvironment.unique()
        var message = chineseMessage(token, to: [MailAddress("li.na@example.com", displayName: "李娜")])
        message.htmlBody = nil
        message.textBody = "Plain ASCII body over TLS.\n"
        _ = try await client(configuration).send(message)
        let (record, parsed) = try #require(try await received(token))
        #expect(record["tls"] as? Bool == true)
        #expect(record["auth"] as? String == "recharge")
        #expect(parsed["subject"] as? String == message.subject)
        #expect(parsed["content_type"] as? String == "text/plain")
    }

    @Test func untrustedCertificateFailsPermanently() async throws {
        // Default trust roots do not include the throwaway certificate.
        let configuration = configuration(.startTLS(TLSConfiguration.makeClientConfiguration()))
        let message = chineseMessage(PeerEnvironment.unique(), to: [MailAddress("a@example.com")])
        let error = try await #require(throws: SMTPError.self) { try await client(configuration).send(message) }
        guard case .tlsFailed = error else {
            Issue.record("expected tlsFailed, got \(error)")
            return
        }
        #expect(error.isPermanent)
    }

    @Test func wrongPasswordIsAPermanentAuthRejection() async throws {
        var configuration = configuration()
        configuration.credentials = .init(username: "recharge", password: "wrong")
        let message = chineseMessage(PeerEnvironment.unique(), to: [MailAddress("a@example.com")])
        let error = try await #require(throws: SMTPError.self) { try await client(configuration).send(message) }
        guard case .rejected(.auth, let reply) = error else {
            Issue.record("expected an AUTH rejection, got \(error)")
            return
        }
        #expect(reply.code == 535)
        #expect(error.isPermanent)
    }

    @Test func recipientRefusedWith550IsPermanent() async throws {
        let message = chineseMessage(PeerEnvironment.unique(), to: [MailAddress("reject-perm@example.com")])
        let error = try await #require(throws: SMTPError.self) { try await client(configuration()).send(message) }
        guard case .allRecipientsRejected(let replies) = error else {
            Issue.record("expected allRecipientsRejected, got \(error)")
            return
        }
        #expect(replies["reject-perm@example.com"]?.code == 550)
        #expect(error.isPermanent)
    }

    @Test func recipientRefusedWith451IsTransient() async throws {
        let message = chineseMessage(PeerEnvironment.unique(), to: [MailAddress("reject-temp@example.com")])
        let error = try await #require(throws: SMTPError.self) { try await client(configuration()).send(message) }
        #expect(error.isTransient)
        #expect(!error.isPermanent)
    }

    @Test func oneRefusedRecipientAmongSeveralIsReported() async throws {
        let token = PeerEnvironment.unique()
        var message = chineseMessage(
            token, to: [MailAddress("one@example.com"), MailAddress("reject-perm@example.com")])
        message.cc = [MailAddress("two@example.com")]
        let delivery = try await client(configuration(auth: false)).send(message)
        #expect(delivery.acceptedRecipients == ["one@example.com", "two@example.com"])
        #expect(delivery.rejectedRecipients["reject-perm@example.com"]?.code == 550)
        let (record, _) = try #require(try await received(token))
        #expect(record["rcpt_tos"] as? [String] == ["one@example.com", "two@example.com"])
        #expect(record["auth"] is NSNull)
    }

    @Test func closedPortIsATransientConnectionFailure() async throws {
        var configuration = configuration()
        configuration.port = try PeerEnvironment.freePort()
        let message = chineseMessage(PeerEnvironment.unique(), to: [MailAddress("a@example.com")])
        let error = try await #require(throws: SMTPError.self) { try await client(configuration).send(message) }
        guard case .connectionFailed = error else {
            Issue.record("expected connectionFailed, got \(error)")
            return
        }
        #expect(error.isTransient)
    }
}
