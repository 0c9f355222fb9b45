import Foundation
import NIOSSL
import RechargeMessaging

public struct MessagingConfigurationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads the SMTP and SMPP servers from URLs, as `recharge serve` takes them from the environment:
///
/// - `RECHARGE_SMTP_URL`: `smtp://user:pass@host:587?starttls=required` (`starttls` = `required` (the default
///   with a user and password), `opportunistic` (the default without; refused with them) or `never`), or `smtps://…:465` for TLS from the first byte. User and password are
///   percent-decoded. `RECHARGE_SMTP_FROM`: `Name <addr@example.com>` or a bare address.
/// - `RECHARGE_SMPP_URL`: `smpp://system_id:password@host:2775`, or `smpps://…` for TLS.
///   `RECHARGE_SMS_SOURCE`: the sender, a number (`+14155550000`, sent as TON 1/NPI 1) or an alphanumeric
///   name of at most 11 characters (TON 5/NPI 0); default `Recharge`.
public enum MessagingEndpoints {
    public static func smtp(url text: String) throws -> SMTPConfiguration {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), scheme == "smtp" || scheme == "smtps",
              let host = url.host, !host.isEmpty else {
            throw MessagingConfigurationError("RECHARGE_SMTP_URL '\(redacted(text))' is not smtp://[user:pass@]host[:port] or smtps://…")
        }
        let options = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let tls = TLSConfiguration.makeClientConfiguration()
        var credentials: SMTPConfiguration.Credentials?
        if let user = url.user?.removingPercentEncoding, !user.isEmpty {
            credentials = .init(username: user, password: url.password?.removingPercentEncoding ?? "")
        }
        let security: SMTPConfiguration.Security
        if scheme == "smtps" {
            security = .implicitTLS(tls)
        } else {
            // A password is never sent over a connection that might be plain text: with AUTH, STARTTLS is required
            // unless the URL says `starttls=never` on purpose (a relay on the same host); opportunistic STARTTLS,
            // which an attacker on the path can strip, is refused.
            switch options["starttls"] ?? (credentials == nil ? "opportunistic" : "required") {
            case "required": security = .startTLS(tls)
            case "opportunistic":
                guard credentials == nil else {
                    throw MessagingConfigurationError("RECHARGE_SMTP_URL: with a user and password, starttls must be required (or never, for a relay on this host), not opportunistic")
                }
                security = .startTLSIfOffered(tls)
            case "never": security = .plain
            case let other: throw MessagingConfigurationError("RECHARGE_SMTP_URL: starttls must be required, opportunistic or never, not '\(other)'")
            }
        }
        let port = url.port ?? (scheme == "smtps" ? 465 : 587)
        return SMTPConfiguration(host: host, port: port, security: security, credentials: credentials)
    }

    public static func mailFrom(_ text: String) throws -> MailAddress {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let open = trimmed.lastIndex(of: "<"), trimmed.hasSuffix(">") {
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            let name = trimmed[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard isAddress(address) else { throw MessagingConfigurationError("RECHARGE_SMTP_FROM '\(text)' has no valid address") }
            return MailAddress(address, displayName: name.isEmpty ? nil : name)
        }
        guard isAddress(trimmed) else { throw MessagingConfigurationError("RECHARGE_SMTP_FROM '\(text)' is not an email address") }
        return MailAddress(trimmed)
    }

    public static func smpp(url text: String, source: String?) throws -> SMPPConfiguration {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), scheme == "smpp" || scheme == "smpps",
              let host = url.host, !host.isEmpty, let systemID = url.user?.removingPercentEncoding, !systemID.isEmpty else {
            throw MessagingConfigurationError("RECHARGE_SMPP_URL '\(redacted(text))' is not smpp://system_id:password@host[:port]")
        }
        let source = source ?? "Recharge"
        let digits = source.hasPrefix("+") ? String(source.dropFirst()) : source
        var configuration: SMPPConfiguration
        if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard digits.count <= 15 else { throw MessagingConfigurationError("RECHARGE_SMS_SOURCE '\(source)' is longer than an E.164 number") }
            configuration = SMPPConfiguration(host: host, port: url.port ?? 2775, systemID: systemID, password: url.password?.removingPercentEncoding ?? "",
                                              sourceAddress: digits, sourceAddressTON: 1, sourceAddressNPI: 1)
        } else {
            guard (1...11).contains(source.count), source.allSatisfy({ $0.isASCII }) else {
                throw MessagingConfigurationError("RECHARGE_SMS_SOURCE '\(source)' must be a number or 1 to 11 ASCII characters")
            }
            configuration = SMPPConfiguration(host: host, port: url.port ?? 2775, systemID: systemID, password: url.password?.removingPercentEncoding ?? "",
                                              sourceAddress: source)
        }
        if scheme == "smpps" { configuration.tls = TLSConfiguration.makeClientConfiguration() }
        return configuration
    }

    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(" ")
    }

    /// The URL with its password hidden, for error messages.
    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }
}
