import AsyncHTTPClient
import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// The five `PAYPAL-*` headers a PayPal webhook delivery carries.
public struct PayPalWebhookHeaders: Sendable, Equatable {
    public static let transmissionIDName = "PAYPAL-TRANSMISSION-ID"
    public static let transmissionTimeName = "PAYPAL-TRANSMISSION-TIME"
    public static let transmissionSignatureName = "PAYPAL-TRANSMISSION-SIG"
    public static let certURLName = "PAYPAL-CERT-URL"
    public static let authAlgorithmName = "PAYPAL-AUTH-ALGO"

    public var transmissionID: String?
    public var transmissionTime: String?
    public var transmissionSignature: String?
    public var certURL: String?
    public var authAlgorithm: String?

    public init(transmissionID: String?, transmissionTime: String?, transmissionSignature: String?, certURL: String?, authAlgorithm: String?) {
        self.transmissionID = transmissionID
        self.transmissionTime = transmissionTime
        self.transmissionSignature = transmissionSignature
        self.certURL = certURL
        self.authAlgorithm = authAlgorithm
    }

    /// Every header present and non-empty, or the name of the first one missing.
    func required() throws(PaymentProviderError) -> (id: String, time: String, signature: String, certURL: String, algorithm: String) {
        func value(_ text: String?, _ name: String) throws(PaymentProviderError) -> String {
            guard let text, !text.isEmpty else { throw .missingSignatureHeader(.paypal, header: name) }
            return text
        }
        return (try value(transmissionID, Self.transmissionIDName), try value(transmissionTime, Self.transmissionTimeName),
                try value(transmissionSignature, Self.transmissionSignatureName), try value(certURL, Self.certURLName),
                try value(authAlgorithm, Self.authAlgorithmName))
    }
}

/// PayPal's webhook signature, checked here without asking PayPal.
///
/// PayPal signs `<transmission id>|<transmission time>|<webhook id>|<CRC-32 of the raw body, decimal>` with
/// SHA256withRSA (PKCS #1 v1.5) and names the signing certificate by URL (`PAYPAL-CERT-URL`). The check, in
/// order, stopping at the first failure:
/// 1. all five headers present and of sane size; the algorithm `SHA256withRSA`; the transmission time ISO 8601
///    and within `toleranceSeconds` of now — all before anything is fetched, so a forged or replayed delivery
///    never makes this server call out (``precheck(_:now:toleranceSeconds:)``);
/// 2. the certificate URL is `https` on one of PayPal's API hosts (or the origin of the configured API base
///    URL, for a stand-in gateway), so a forger cannot point us at a certificate of their own;
/// 3. the PEM chain it serves (fetched once per URL and cached) validates with swift-certificates' RFC 5280
///    verifier to one of `trustRoots` (the system's CA bundle in production), at `now`, and the leaf names a
///    host under `paypal.com` (common name or DNS SAN) — the checks PayPal's own SDKs make;
/// 4. the signature verifies with the leaf's key over the string above, built from the raw bytes received.
/// `PayPalClient.verifyWebhookSignature` is the other way (PayPal's verify API); both are supported.
public struct PayPalWebhookVerifier: Sendable {
    public static let defaultToleranceSeconds: Int64 = 300
    /// The hosts PayPal serves its webhook certificates from (live and sandbox).
    public static let paypalCertificateHosts: Set<String> = [
        "api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com",
    ]

    public let webhookID: String
    public let toleranceSeconds: Int64
    /// Extra origins (`scheme://host[:port]`) allowed to serve certificates: the configured API base URL's.
    public let extraCertificateOrigins: Set<String>
    let trustRoots: CertificateStore
    let certificates: CertificateCache

    /// `fetch` reads a certificate URL (already allowed) and returns its PEM text.
    public init(webhookID: String, trustRoots: [Certificate], extraCertificateOrigins: Set<String> = [],
                toleranceSeconds: Int64 = Self.defaultToleranceSeconds,
                fetch: @escaping @Sendable (String) async throws -> String) {
        self.webhookID = webhookID
        self.trustRoots = CertificateStore(trustRoots)
        self.extraCertificateOrigins = extraCertificateOrigins
        self.toleranceSeconds = toleranceSeconds
        self.certificates = CertificateCache(fetch: fetch)
    }

    /// The string PayPal signs.
    public static func signedMessage(transmissionID: String, transmissionTime: String, webhookID: String, body: some Sequence<UInt8>) -> String {
        "\(transmissionID)|\(transmissionTime)|\(webhookID)|\(CRC32.checksum(body))"
    }

    public func verify(body: [UInt8], headers: PayPalWebhookHeaders, now: Date) async throws(PaymentProviderError) {
        let fields = try Self.precheck(headers, now: now, toleranceSeconds: toleranceSeconds)
        try checkCertificateURL(fields.certURL)
        let key = try await certificates.key(for: fields.certURL, roots: trustRoots, now: now)
        let message = Self.signedMessage(transmissionID: fields.id, transmissionTime: fields.time, webhookID: webhookID, body: body)
        guard key.isValidSignature(fields.signature, for: Array(message.utf8), signatureAlgorithm: .sha256WithRSAEncryption) else {
            throw .noMatchingSignature(.paypal)
        }
    }

    /// The longest header value taken: PayPal's ids are ~36 bytes and its signatures 344 (RSA-2048, base64);
    /// anything much longer is not PayPal's and is refused before it costs a fetch or a signature check.
    public static let maximumHeaderLength = 1024

    /// Everything that can be checked without a network call, in this order: the five headers present and at
    /// most ``maximumHeaderLength`` bytes, the algorithm, the transmission time (ISO 8601, within
    /// `toleranceSeconds` of now: a replay or a made-up delivery is refused here) and the signature's base64.
    /// Both ways of verifying run it before calling out (fetching the certificate, or PayPal's verify API).
    public static func precheck(_ headers: PayPalWebhookHeaders, now: Date, toleranceSeconds: Int64)
        throws(PaymentProviderError) -> (id: String, time: String, signature: Data, certURL: String) {
        let fields = try headers.required()
        for (value, name) in [(fields.id, PayPalWebhookHeaders.transmissionIDName), (fields.time, PayPalWebhookHeaders.transmissionTimeName),
                              (fields.signature, PayPalWebhookHeaders.transmissionSignatureName), (fields.certURL, PayPalWebhookHeaders.certURLName),
                              (fields.algorithm, PayPalWebhookHeaders.authAlgorithmName)] where value.utf8.count > maximumHeaderLength {
            throw .malformedSignatureHeader(.paypal, header: name, reason: "longer than \(maximumHeaderLength) bytes")
        }
        guard fields.algorithm == "SHA256withRSA" else { throw .unsupportedAlgorithm(.paypal, algorithm: fields.algorithm) }
        guard let sent = parseTime(fields.time) else {
            throw .malformedSignatureHeader(.paypal, header: PayPalWebhookHeaders.transmissionTimeName, reason: "not an ISO 8601 time")
        }
        let sentSeconds = Int64(sent.timeIntervalSince1970.rounded(.down))
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        guard abs(nowSeconds - sentSeconds) <= toleranceSeconds else {
            throw .timestampOutsideTolerance(.paypal, timestamp: sentSeconds, now: nowSeconds, toleranceSeconds: toleranceSeconds)
        }
        guard let signature = Data(base64Encoded: fields.signature), !signature.isEmpty else {
            throw .malformedSignatureHeader(.paypal, header: PayPalWebhookHeaders.transmissionSignatureName, reason: "not base64")
        }
        return (fields.id, fields.time, signature, fields.certURL)
    }

    func checkCertificateURL(_ text: String) throws(PaymentProviderError) {
        // One certificate name after the path (PayPal's look like CERT-360caa42-fca2a594-1d93a270), no query:
        // a forger cannot make each delivery name a new URL that the cache has never seen by adding to it.
        let prefix = "/v1/notifications/certs/"
        guard let url = URLComponents(string: text), let host = url.host?.lowercased(), let scheme = url.scheme?.lowercased(),
              url.user == nil, url.password == nil, url.query == nil, url.fragment == nil, url.path.hasPrefix(prefix),
              (1...128).contains(url.path.utf8.count - prefix.utf8.count),
              url.path.utf8.dropFirst(prefix.utf8.count).allSatisfy({ $0 == 0x2D || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else {
            throw .untrustedCertificate(.paypal, reason: "certificate URL \(text) is not a PayPal certificate URL")
        }
        let origin = "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
        let paypal = scheme == "https" && url.port == nil && Self.paypalCertificateHosts.contains(host)
        guard paypal || extraCertificateOrigins.contains(origin) else {
            throw .untrustedCertificate(.paypal, reason: "certificate host \(origin) is not PayPal's")
        }
    }

    /// `PAYPAL-TRANSMISSION-TIME`: ISO 8601, with or without fractional seconds.
    public static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// Every certificate in a PEM text, in order.
    public static func certificates(pem: String) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: pem).filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
    }

    /// The roots in a PEM file, or the system's trust store (Debian's `ca-certificates`, which PayPal's
    /// certificate chains to) when `file` is nil. At least one certificate, or an error.
    public static func trustRoots(file: String?) throws -> [Certificate] {
        let path = file ?? "/etc/ssl/certs/ca-certificates.crt"
        let roots = try certificates(pem: String(contentsOfFile: path, encoding: .utf8))
        guard !roots.isEmpty else { throw PaymentProviderError.invalidKey(.paypal, reason: "\(path) holds no certificate") }
        return roots
    }
}

/// Certificate URL → the leaf's validated key, until the leaf expires or an hour passes (PayPal rotates
/// certificates by URL, so a URL's content does not change). At most ``maximumFetchesPerMinute`` URLs not in
/// the cache are fetched a minute, and at most ``maximumEntries`` are kept: a stream of deliveries naming new
/// certificates (fresh, but forged) cannot turn this server into a fetcher of PayPal's URLs, nor fill memory.
/// PayPal signs with one or two certificates at a time and retries a delivery refused for a while.
actor CertificateCache {
    struct Entry {
        let key: Certificate.PublicKey
        let validUntil: Date
    }

    static let maximumFetchesPerMinute = 10
    static let maximumEntries = 32

    let fetch: @Sendable (String) async throws -> String
    var entries: [String: Entry] = [:]
    /// When the fetches of the last minute started.
    var recentFetches: [Date] = []

    init(fetch: @escaping @Sendable (String) async throws -> String) {
        self.fetch = fetch
    }

    func key(for url: String, roots: CertificateStore, now: Date) async throws(PaymentProviderError) -> Certificate.PublicKey {
        if let entry = entries[url], entry.validUntil > now { return entry.key }
        recentFetches.removeAll { now.timeIntervalSince($0) >= 60 || $0 > now }
        guard recentFetches.count < Self.maximumFetchesPerMinute else {
            throw .certificateUnavailable(.paypal, reason: "more than \(Self.maximumFetchesPerMinute) new certificate URLs in a minute; \(url) is not fetched now")
        }
        recentFetches.append(now)
        let pem: String
        do {
            pem = try await fetch(url)
        } catch {
            throw .certificateUnavailable(.paypal, reason: "\(url): \(error)")
        }
        let chain: [Certificate]
        do {
            chain = try PayPalWebhookVerifier.certificates(pem: pem)
        } catch {
            throw .untrustedCertificate(.paypal, reason: "\(url) did not serve PEM certificates: \(error)")
        }
        guard let leaf = chain.first else { throw .untrustedCertificate(.paypal, reason: "\(url) served no certificate") }
        var verifier = Verifier(rootCertificates: roots) { RFC5280Policy(fixedExpiryValidationTime: now) }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        guard case .validCertificate = result else {
            throw .untrustedCertificate(.paypal, reason: "the chain from \(url) does not validate to a trusted root at \(now)")
        }
        guard Self.namesPayPal(leaf) else {
            throw .untrustedCertificate(.paypal, reason: "the certificate's subject \(leaf.subject) is not a paypal.com host")
        }
        let entry = Entry(key: leaf.publicKey, validUntil: min(leaf.notValidAfter, now.addingTimeInterval(3600)))
        entries = entries.filter { $0.value.validUntil > now }
        if entries.count >= Self.maximumEntries, let soonest = entries.min(by: { $0.value.validUntil < $1.value.validUntil })?.key {
            entries[soonest] = nil
        }
        entries[url] = entry
        return entry.key
    }

    static func namesPayPal(_ certificate: Certificate) -> Bool {
        var names: [String] = []
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { names.append(name) }
            }
        }
        if let alternatives = try? certificate.extensions.subjectAlternativeNames {
            for name in alternatives { if case .dnsName(let dns) = name { names.append(dns) } }
        }
        return names.contains { $0.lowercased().hasSuffix(".paypal.com") }
    }
}

extension PayPalWebhookVerifier {
    /// Reads a certificate URL with `httpClient` (a GET, bounded size and time); the URL has been allowed first.
    public static func fetcher(httpClient: HTTPClient, timeout: Duration = .seconds(10)) -> @Sendable (String) async throws -> String {
        { url in
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/x-pem-file, text/plain")
            let response = try await ProviderHTTPTransport.send(request, on: httpClient, timeout: timeout)
            guard response.status == 200 else { throw PaymentProviderError.certificateUnavailable(.paypal, reason: "HTTP \(response.status)") }
            return String(decoding: response.body, as: UTF8.self)
        }
    }
}
