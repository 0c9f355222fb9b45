import AsyncHTTPClient
import Crypto
import Foundation
import _CryptoExtras

/// The WeChat Pay API v3 calls a recharge order needs: a Native (QR) payment, the status query by our
/// `out_trade_no`, and refunds.
///
/// Every request carries `Authorization: WECHATPAY2-SHA256-RSA2048 …` from `WeChatPayRequestSigner` over
/// the exact path, query and body sent. Every 2xx answer is believed only after its `Wechatpay-Signature`
/// verifies with the platform key named by `Wechatpay-Serial` over `"<timestamp>\n<nonce>\n<body>\n"` and
/// the timestamp is within tolerance — the scheme notifications use. The `HTTPClient` is the caller's.
public struct WeChatPayClient: Sendable {
    public struct Configuration: Sendable, CustomStringConvertible {
        public var baseURL: String
        public var mchID: String
        public var appID: String
        /// The serial number of the merchant API certificate, sent as `serial_no`.
        public var merchantSerialNo: String
        public var merchantPrivateKey: _RSA.Signing.PrivateKey
        /// Platform (or WeChat Pay public key) keys by serial, to verify answers.
        public var platformKeys: [String: _RSA.Signing.PublicKey]
        public var notifyURL: String
        public var requestTimeout: Duration
        public var responseToleranceSeconds: Int64
        /// Read for the `Authorization` timestamp and the response clock check; injected for tests.
        public var now: @Sendable () -> Date
        /// The `nonce_str` of each request; random by default.
        public var nonce: @Sendable () -> String

        public init(
            mchID: String, appID: String, merchantSerialNo: String, merchantPrivateKey: _RSA.Signing.PrivateKey,
            platformKeys: [String: _RSA.Signing.PublicKey], notifyURL: String,
            baseURL: String = "https://api.mch.weixin.qq.com", requestTimeout: Duration = .seconds(30),
            responseToleranceSeconds: Int64 = WeChatPayNotification.defaultToleranceSeconds,
            now: @escaping @Sendable () -> Date = { Date() },
            nonce: @escaping @Sendable () -> String = { UUID().uuidString.replacingOccurrences(of: "-", with: "") }
        ) {
            self.baseURL = baseURL
            self.mchID = mchID
            self.appID = appID
            self.merchantSerialNo = merchantSerialNo
            self.merchantPrivateKey = merchantPrivateKey
            self.platformKeys = platformKeys
            self.notifyURL = notifyURL
            self.requestTimeout = requestTimeout
            self.responseToleranceSeconds = responseToleranceSeconds
            self.now = now
            self.nonce = nonce
        }

        public var description: String {
            "WeChatPayClient.Configuration(baseURL: \(baseURL), mchID: \(mchID), appID: \(appID), merchantSerialNo: \(merchantSerialNo), platformKeys: \(platformKeys.keys.sorted()), requestTimeout: \(requestTimeout), merchantPrivateKey: [redacted])"
        }
    }

    public struct Transaction: Sendable, Equatable {
        /// `NOTPAY`, `SUCCESS`, `REFUND`, `CLOSED`, `USERPAYING`, `PAYERROR`, … as WeChat wrote it.
        public let tradeState: String
        public let totalFen: Int64
        public let transactionID: String?

        public var isPaid: Bool { tradeState == "SUCCESS" }
    }

    public struct Refund: Sendable, Equatable {
        public let refundID: String?
        /// `SUCCESS`, `PROCESSING`, `CLOSED` or `ABNORMAL`.
        public let status: String
        public let refundFen: Int64?
    }

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let signer: WeChatPayRequestSigner

    public init(configuration: Configuration, httpClient: HTTPClient) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.signer = WeChatPayRequestSigner(
            mchID: configuration.mchID, serialNo: configuration.merchantSerialNo,
            merchantPrivateKey: configuration.merchantPrivateKey)
    }

    /// `POST /v3/pay/transactions/native`: the `code_url` to render as a QR code. `expiresAt`: WeChat Pay closes
    /// the trade then (`time_expire`, RFC 3339 with the +08:00 offset), so an expired order's code cannot be paid.
    public func nativePay(outTradeNo: String, description: String, totalFen: Int64, expiresAt: Date? = nil) async throws(WeChatPayAPIError) -> String {
        let request = NativePayRequest(
            appid: configuration.appID, mchid: configuration.mchID, description: description,
            outTradeNo: outTradeNo, timeExpire: expiresAt.map(ChinaStandardTime.rfc3339), notifyURL: configuration.notifyURL,
            amount: .init(total: totalFen, currency: "CNY"))
        let answer: NativePayResponse = try await send("POST", "/v3/pay/transactions/native", body: request)
        return answer.codeURL
    }

    /// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`. An unknown trade is
    /// `.api(status: 404, code: "ORDER_NOT_EXIST", …)`.
    public func query(outTradeNo: String) async throws(WeChatPayAPIError) -> Transaction {
        let path = "/v3/pay/transactions/out-trade-no/\(Self.pathSegment(outTradeNo))?mchid=\(Self.pathSegment(configuration.mchID))"
        let answer: QueryResponse = try await send("GET", path, body: Optional<NativePayRequest>.none)
        return Transaction(
            tradeState: answer.tradeState, totalFen: answer.amount.total,
            transactionID: answer.transactionID.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `POST /v3/refund/domestic/refunds` by `out_trade_no`; `outRefundNo` makes a retry refund once.
    public func refund(
        outTradeNo: String, outRefundNo: String, refundFen: Int64, totalFen: Int64
    ) async throws(WeChatPayAPIError) -> Refund {
        let request = RefundRequest(
            outTradeNo: outTradeNo, outRefundNo: outRefundNo,
            amount: .init(refund: refundFen, total: totalFen, currency: "CNY"))
        let answer: RefundResponse = try await send("POST", "/v3/refund/domestic/refunds", body: request)
        return Refund(refundID: answer.refundID, status: answer.status, refundFen: answer.amount?.refund)
    }

    // MARK: Transport

    private func send<Body: Encodable, Answer: Decodable>(
        _ method: String, _ pathWithQuery: String, body payload: Body?
    ) async throws(WeChatPayAPIError) -> Answer {
        var body = Data()
        if let payload {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            do {
                body = try encoder.encode(payload)
            } catch {
                throw .signing(.malformedBody(.wechatPay, reason: "request not encodable: \(error)"))
            }
        }
        let authorization: String
        do {
            authorization = try signer.authorization(
                method: method, urlPathWithQuery: pathWithQuery, body: body,
                timestamp: Int64(configuration.now().timeIntervalSince1970.rounded(.down)), nonce: configuration.nonce())
        } catch {
            throw .signing(error)
        }
        var request = HTTPClientRequest(url: ProviderHTTPTransport.join(configuration.baseURL, pathWithQuery))
        request.method = method == "GET" ? .GET : .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Recharge-WeChatPayClient")
        if payload != nil {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Array(body))
        }
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
        let verified = try Self.verifiedResponse(
            status: response.status, headers: response.headers, body: response.body,
            platformKeys: configuration.platformKeys, now: configuration.now(),
            toleranceSeconds: configuration.responseToleranceSeconds)
        do {
            return try JSONDecoder().decode(Answer.self, from: verified)
        } catch {
            throw .unexpectedResponse(status: response.status, reason: "not a \(Answer.self): \(error)")
        }
    }

    /// A refusal (non-2xx) becomes `.api` from its `{"code","message"}` — it credits nothing, so it is read
    /// even unsigned. A 2xx is read only after its signature verifies.
    static func verifiedResponse(
        status: Int, headers: [String: String], body: Data, platformKeys: [String: _RSA.Signing.PublicKey],
        now: Date, toleranceSeconds: Int64
    ) throws(WeChatPayAPIError) -> Data {
        guard (200..<300).contains(status) else {
            if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let code = object["code"] as? String
            {
                throw .api(status: status, code: code, message: (object["message"] as? String) ?? "")
            }
            throw .unexpectedResponse(status: status, reason: "no WeChat Pay error object in the body (\(body.count) bytes)")
        }
        do {
            try WeChatPayResponseSignature.verify(
                body: body, headers: WeChatPaySignatureHeaders(headers: headers), platformKeys: platformKeys,
                now: now, toleranceSeconds: toleranceSeconds)
        } catch {
            throw .responseVerification(error)
        }
        return body
    }

    static func pathSegment(_ text: String) -> String {
        FormURLEncoding.encodeComponent(text).replacingOccurrences(of: "+", with: "%20")
    }
}

// The wire shapes, named as WeChat Pay names them.
struct NativePayRequest: Encodable {
    struct Amount: Encodable {
        let total: Int64
        let currency: String
    }
    let appid: String
    let mchid: String
    let description: String
    let outTradeNo: String
    let timeExpire: String?
    let notifyURL: String
    let amount: Amount

    enum CodingKeys: String, CodingKey {
        case appid, mchid, description, amount
        case outTradeNo = "out_trade_no"
        case timeExpire = "time_expire"
        case notifyURL = "notify_url"
    }
}

struct NativePayResponse: Decodable {
    let codeURL: String
    enum CodingKeys: String, CodingKey { case codeURL = "code_url" }
}

struct QueryResponse: Decodable {
    struct Amount: Decodable { let total: Int64 }
    let tradeState: String
    let transactionID: String?
    let amount: Amount
    enum CodingKeys: String, CodingKey {
        case amount
        case tradeState = "trade_state"
        case transactionID = "transaction_id"
    }
}

struct RefundRequest: Encodable {
    struct Amount: Encodable {
        let refund: Int64
        let total: Int64
        let currency: String
    }
    let outTradeNo: String
    let outRefundNo: String
    let amount: Amount
    enum CodingKeys: String, CodingKey {
        case amount
        case outTradeNo = "out_trade_no"
        case outRefundNo = "out_refund_no"
    }
}

struct RefundResponse: Decodable {
    struct Amount: Decodable { let refund: Int64? }
    let refundID: String?
    let status: String
    let amount: Amount?
    enum CodingKeys: String, CodingKey {
        case status, amount
        case refundID = "refund_id"
    }
}
