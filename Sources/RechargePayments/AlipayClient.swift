import AsyncHTTPClient
import Foundation
import Crypto
import _CryptoExtras

/// The Alipay OpenAPI calls a recharge order needs: a QR code to pay (`alipay.trade.precreate`), the
/// server-side status query a credit may be based on (`alipay.trade.query`) and refunds
/// (`alipay.trade.refund`).
///
/// Requests are form POSTs of the common parameters signed by `AlipayRequestSigner`. Every answer is
/// believed only after its `sign` verifies with the Alipay public key over the exact bytes of the
/// `…_response` object as they appear in the body (Alipay signs its JSON text, not a re-serialisation).
/// The `HTTPClient` is the caller's, shared and shut down by it.
public struct AlipayClient: Sendable {
    /// Where and how an `AlipayClient` talks to Alipay. Its description never shows the private key.
    public struct Configuration: Sendable, CustomStringConvertible {
        public var gatewayURL: String
        public var appID: String
        public var merchantPrivateKey: _RSA.Signing.PrivateKey
        public var alipayPublicKey: _RSA.Signing.PublicKey
        public var notifyURL: String?
        public var requestTimeout: Duration
        /// Read once per request for `timestamp`; injected so tests can pin it.
        public var now: @Sendable () -> Date

        public init(
            appID: String, merchantPrivateKey: _RSA.Signing.PrivateKey, alipayPublicKey: _RSA.Signing.PublicKey,
            notifyURL: String? = nil, gatewayURL: String = "https://openapi.alipay.com/gateway.do",
            requestTimeout: Duration = .seconds(30), now: @escaping @Sendable () -> Date = { Date() }
        ) {
            self.gatewayURL = gatewayURL
            self.appID = appID
            self.merchantPrivateKey = merchantPrivateKey
            self.alipayPublicKey = alipayPublicKey
            self.notifyURL = notifyURL
            self.requestTimeout = requestTimeout
            self.now = now
        }

        /// Loads both keys from PEM or bare base64 DER, as the Alipay console shows them.
        public init(
            appID: String, merchantPrivateKeyPEM: String, alipayPublicKeyPEM: String, notifyURL: String? = nil,
            gatewayURL: String = "https://openapi.alipay.com/gateway.do", requestTimeout: Duration = .seconds(30)
        ) throws(PaymentProviderError) {
            self.init(
                appID: appID,
                merchantPrivateKey: try ProviderRSAKey.privateKey(merchantPrivateKeyPEM, provider: .alipay),
                alipayPublicKey: try ProviderRSAKey.publicKey(alipayPublicKeyPEM, provider: .alipay),
                notifyURL: notifyURL, gatewayURL: gatewayURL, requestTimeout: requestTimeout)
        }

        public var description: String {
            "AlipayClient.Configuration(gatewayURL: \(gatewayURL), appID: \(appID), notifyURL: \(notifyURL ?? "none"), requestTimeout: \(requestTimeout), merchantPrivateKey: [redacted])"
        }
    }

    /// What `precreate` hands back: the QR code content to show the subscriber.
    public struct Precreated: Sendable, Equatable {
        public let qrCode: String
        public let outTradeNo: String
    }

    /// What `query` hands back.
    public struct TradeStatus: Sendable, Equatable {
        /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS` or `TRADE_FINISHED`, as Alipay wrote it.
        public let tradeStatus: String
        public let totalAmountMinorUnits: Int64
        public let tradeNo: String?

        public var isPaid: Bool { tradeStatus == "TRADE_SUCCESS" || tradeStatus == "TRADE_FINISHED" }
    }

    /// What `refund` hands back: `refund_fee`, the total refunded on the trade so far, in fen.
    public struct Refunded: Sendable, Equatable {
        public let refundFeeMinorUnits: Int64
    }

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let signer: AlipayRequestSigner

    public init(configuration: Configuration, httpClient: HTTPClient) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.signer = AlipayRequestSigner(appID: configuration.appID, merchantPrivateKey: configuration.merchantPrivateKey)
    }

    /// `alipay.trade.precreate`: a QR code for `totalAmountMinorUnits` fen, `notify_url` from the configuration.
    /// `expiresAt`: Alipay closes the trade then (`time_expire`, Beijing time to the second), so a code shown on an
    /// order that has expired here cannot be paid any more.
    public func precreate(
        outTradeNo: String, totalAmountMinorUnits: Int64, subject: String, expiresAt: Date? = nil
    ) async throws(AlipayAPIError) -> Precreated {
        var fields = [
            ("out_trade_no", outTradeNo),
            ("total_amount", MinorUnitAmount.decimalString(totalAmountMinorUnits)),
            ("subject", subject),
        ]
        if let expiresAt { fields.append(("time_expire", ChinaStandardTime.dateTime(expiresAt))) }
        let response = try await call(.precreate, bizContent: Self.json(fields))
        return Precreated(
            qrCode: try Self.required(response, "qr_code"),
            outTradeNo: (response["out_trade_no"] as? String) ?? outTradeNo)
    }

    /// `alipay.trade.query` by our `out_trade_no`. A trade Alipay has not seen yet (no scan) is
    /// `.gateway(code: "40004", subCode: "ACQ.TRADE_NOT_EXIST")`.
    public func query(outTradeNo: String) async throws(AlipayAPIError) -> TradeStatus {
        let response = try await call(.query, bizContent: Self.json([("out_trade_no", outTradeNo)]))
        let total = try Self.required(response, "total_amount")
        let amount: Int64
        do {
            amount = try MinorUnitAmount.parse(total, field: "total_amount", provider: .alipay)
        } catch {
            throw .responseVerification(error)
        }
        return TradeStatus(
            tradeStatus: try Self.required(response, "trade_status"), totalAmountMinorUnits: amount,
            tradeNo: (response["trade_no"] as? String).flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `alipay.trade.refund`; `outRequestNo` identifies this refund, so a retry with it refunds once.
    public func refund(
        outTradeNo: String, refundAmountMinorUnits: Int64, outRequestNo: String
    ) async throws(AlipayAPIError) -> Refunded {
        let response = try await call(.refund, bizContent: Self.json([
            ("out_trade_no", outTradeNo),
            ("refund_amount", MinorUnitAmount.decimalString(refundAmountMinorUnits)),
            ("out_request_no", outRequestNo),
        ]))
        let fee = try Self.required(response, "refund_fee")
        do {
            return Refunded(refundFeeMinorUnits: try MinorUnitAmount.parse(fee, field: "refund_fee", provider: .alipay))
        } catch {
            throw .responseVerification(error)
        }
    }

    // MARK: Transport

    /// Signs and posts `method`, verifies the answer, and returns the `…_response` object when its code is 10000.
    func call(_ method: AlipayTradeMethod, bizContent: String) async throws(AlipayAPIError) -> [String: Any] {
        var parameters = signer.parameters(
            method: method, bizContent: bizContent, timestamp: configuration.now(),
            notifyURL: method == .precreate ? configuration.notifyURL : nil)
        parameters["format"] = "JSON"
        let body: String
        do {
            body = try signer.formBody(parameters)
        } catch {
            throw .signing(error)
        }
        var request = HTTPClientRequest(url: configuration.gatewayURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded;charset=utf-8")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(Array(body.utf8))

        let response: ProviderHTTPTransport.Response
        do {
            response = try await ProviderHTTPTransport.send(request, on: httpClient, timeout: configuration.requestTimeout)
        } catch {
            switch error {
            case .timedOut: throw .timedOut
            case .network(let reason): throw .network(reason: reason)
            case .bodyNotRead(let status, let reason): throw .unexpectedResponse(status: status, reason: reason)
            }
        }
        guard response.status == 200 else {
            throw .unexpectedResponse(status: response.status, reason: "Alipay answers 200 to every call")
        }
        return try Self.verifiedResponse(
            body: response.body, method: method, alipayPublicKey: configuration.alipayPublicKey)
    }

    /// The checks on an answer, in order: the body holds `<method>_response` (or Alipay's `error_response`)
    /// as a JSON object; `sign` is present and verifies over that object's raw text; then its `code`.
    /// An unsigned answer is accepted only as a refusal (code other than 10000), which credits nothing.
    static func verifiedResponse(
        body: Data, method: AlipayTradeMethod, alipayPublicKey: _RSA.Signing.PublicKey
    ) throws(AlipayAPIError) -> [String: Any] {
        let responseKey = method.rawValue.replacingOccurrences(of: ".", with: "_") + "_response"
        let bytes = Array(body)
        guard let raw = rawObject(named: responseKey, in: bytes) ?? rawObject(named: "error_response", in: bytes) else {
            throw .unexpectedResponse(status: 200, reason: "no \(responseKey) object in the body (\(bytes.count) bytes)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any] else {
            throw .unexpectedResponse(status: 200, reason: "\(responseKey) is not a JSON object")
        }
        let code = (object["code"] as? String) ?? ""
        let envelope = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let sign = (envelope?["sign"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        func refusal() -> AlipayAPIError {
            .gateway(
                code: code, msg: object["msg"] as? String, subCode: object["sub_code"] as? String,
                subMsg: object["sub_msg"] as? String)
        }
        guard let sign else {
            if code != "10000" { throw refusal() }
            throw .responseVerification(.missingField(.alipay, field: "sign"))
        }
        guard let signature = Data(base64Encoded: sign.filter { !$0.isWhitespace }) else {
            throw .responseVerification(.malformedBody(.alipay, reason: "sign is not base64"))
        }
        guard alipayPublicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: raw),
            padding: .insecurePKCS1v1_5)
        else { throw .responseVerification(.noMatchingSignature(.alipay)) }
        guard code == "10000" else { throw refusal() }
        return object
    }

    /// The exact bytes of the JSON object that is the value of top-level-looking key `name`: from its `{`
    /// to the matching `}`, skipping braces inside strings (which the Python SDK's scan does not).
    static func rawObject(named name: String, in body: [UInt8]) -> ArraySlice<UInt8>? {
        let needle = Array("\"\(name)\"".utf8)
        guard needle.count <= body.count else { return nil }
        var keyEnd: Int?
        for start in 0...(body.count - needle.count) where body[start..<(start + needle.count)].elementsEqual(needle) {
            keyEnd = start + needle.count
            break
        }
        guard var index = keyEnd else { return nil }
        func skipSpace() { while index < body.count, [0x20, 0x09, 0x0A, 0x0D].contains(body[index]) { index += 1 } }
        skipSpace()
        guard index < body.count, body[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        skipSpace()
        guard index < body.count, body[index] == UInt8(ascii: "{") else { return nil }
        let start = index
        var depth = 0
        var inString = false
        while index < body.count {
            let byte = body[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") {
                depth += 1
            } else if byte == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return body[start...index] }
            }
            index += 1
        }
        return nil
    }

    static func required(_ object: [String: Any], _ field: String) throws(AlipayAPIError) -> String {
        guard let value = object[field] as? String, !value.isEmpty else {
            throw .responseVerification(.missingField(.alipay, field: field))
        }
        return value
    }

    /// A flat JSON object of strings in the given order, so the signed `biz_content` is predictable.
    static func json(_ fields: [(String, String)]) -> String {
        func quoted(_ text: String) -> String {
            let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
            return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        }
        return "{" + fields.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}"
    }
}
