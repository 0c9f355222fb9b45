import AsyncHTTPClient
import Crypto
import Foundation
import RechargeTestSupport
@testable import RechargePayments
import Testing
import _CryptoExtras

/// What needs no peer: response verification and refusals, an unreachable host.
@Suite struct WeChatPayClientUnitTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    func signedHeaders(_ body: String, key: _RSA.Signing.PrivateKey = TestKeys.provider, serial: String = "PLATFORM1",
                       timestamp: Int64 = 1_780_000_000) throws -> [String: String] {
        let message = Data("\(timestamp)\nnonce1\n\(body)\n".utf8)
        let signature = try key.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
        return ["wechatpay-timestamp": "\(timestamp)", "wechatpay-nonce": "nonce1",
                "wechatpay-signature": signature.rawRepresentation.base64EncodedString(), "wechatpay-serial": serial]
    }

    func verify(status: Int = 200, _ body: String, _ headers: [String: String]) throws(WeChatPayAPIError) -> Data {
        try WeChatPayClient.verifiedResponse(
            status: status, headers: headers, body: Data(body.utf8),
            platformKeys: ["PLATFORM1": TestKeys.provider.publicKey], now: Self.now, toleranceSeconds: 300)
    }

    @Test func signedAnswerVerifiesOthersDoNot() throws {
        let body = #"{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}"#
        #expect(try verify(body, signedHeaders(body)) == Data(body.utf8))
        #expect(throws: WeChatPayAPIError.responseVerification(.noMatchingSignature(.wechatPay))) {
            _ = try verify(body + " ", signedHeaders(body))
        }
        #expect(throws: WeChatPayAPIError.responseVerification(.unknownPlatformSerial(.wechatPay, serial: "OTHER"))) {
            _ = try verify(body, signedHeaders(body, serial: "OTHER"))
        }
        #expect(throws: WeChatPayAPIError.responseVerification(.missingSignatureHeader(.wechatPay, header: "Wechatpay-Signature"))) {
            var headers = try signedHeaders(body)
            headers["wechatpay-signature"] = nil
            _ = try verify(body, headers)
        }
        #expect(throws: WeChatPayAPIError.responseVerification(.timestampOutsideTolerance(
            .wechatPay, timestamp: 1_779_999_000, now: 1_780_000_000, toleranceSeconds: 300))) {
            _ = try verify(body, signedHeaders(body, timestamp: 1_779_999_000))
        }
    }

    @Test func refusalIsTypedWithStatus() {
        #expect(throws: WeChatPayAPIError.api(status: 404, code: "ORDER_NOT_EXIST", message: "订单不存在")) {
            _ = try verify(status: 404, #"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#, [:])
        }
        #expect(throws: WeChatPayAPIError.unexpectedResponse(status: 502, reason: "no WeChat Pay error object in the body (6 bytes)")) {
            _ = try verify(status: 502, "<html>", [:])
        }
    }

    @Test func unreachableHostIsANetworkError() async {
        let client = WeChatPayClient(
            configuration: .init(
                mchID: "1900000001", appID: "wx0", merchantSerialNo: "M1", merchantPrivateKey: TestKeys.merchant,
                platformKeys: [:], notifyURL: "https://recharge.example/n", baseURL: "http://127.0.0.1:1",
                requestTimeout: .seconds(1)),
            httpClient: .shared)
        let error = await #expect(throws: WeChatPayAPIError.self) {
            try await client.query(outTradeNo: "R1")
        }
        switch error {
        case .network?, .timedOut?: break
        default: Issue.record("expected a network error, got \(String(describing: error))")
        }
    }
}

/// The client against `scripts/peers/wechat_gateway.py`, which checks the `Authorization` header and signs
/// answers with wechatpayv3's own utilities.
@Suite(.enabled(
    if: PaymentPeer.isAvailable,
    "skipped: RECHARGE_TEST_PEERS_PYTHON is not set; run eval \"$(scripts/start-peers)\" to test against the SDK-built WeChat Pay gateway"))
struct WeChatPayClientPeerTests {
    static let mchID = "1900000001"
    static let merchantSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    static let platformSerial = "PUB_KEY_ID_0114232134912410000000000000"

    func client(
        _ gateway: GatewayPeer, merchantKey: _RSA.Signing.PrivateKey = TestKeys.merchant,
        platformKeys: [String: _RSA.Signing.PublicKey] = [platformSerial: TestKeys.provider.publicKey]
    ) -> WeChatPayClient {
        WeChatPayClient(
            configuration: .init(
                mchID: Self.mchID, appID: "wxd678efh567hg6787", merchantSerialNo: Self.merchantSerial,
                merchantPrivateKey: merchantKey, platformKeys: platformKeys,
                notifyURL: "https://recharge.example/webhooks/wechat", baseURL: gateway.url, requestTimeout: .seconds(10)),
            httpClient: .shared)
    }

    func tradeNo() -> String { "R\(UUID().uuidString.prefix(12))" }

    func withGateway(_ body: (GatewayPeer) async throws -> Void) async throws {
        let gateway = try await GatewayPeer.start(
            script: "wechat_gateway.py",
            arguments: ["--mchid", Self.mchID, "--merchant-serial", Self.merchantSerial,
                        "--merchant-public-key", "@merchant.pub", "--platform-private-key", "@platform.pem",
                        "--platform-serial", Self.platformSerial],
            files: ["merchant.pub": GatewayPeer.pem(TestKeys.merchant.publicKey), "platform.pem": GatewayPeer.pem(TestKeys.provider)])
        do {
            try await body(gateway)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test func nativePayQueryPayQueryRefund() async throws {
        try await withGateway { gateway in
            let wechat = client(gateway)
            let no = tradeNo()
            let codeURL = try await wechat.nativePay(outTradeNo: no, description: "话费充值 +1 415 555 0100", totalFen: 1234)
            #expect(codeURL.hasPrefix("weixin://wxpay/bizpayurl?pr="))

            let waiting = try await wechat.query(outTradeNo: no)
            #expect(waiting == .init(tradeState: "NOTPAY", totalFen: 1234, transactionID: nil))

            try await gateway.hook("/_test/pay?out_trade_no=\(no)")
            let paid = try await wechat.query(outTradeNo: no)
            #expect(paid.tradeState == "SUCCESS")
            #expect(paid.totalFen == 1234)
            #expect(paid.transactionID != nil)
            #expect(paid.isPaid)

            let refund = try await wechat.refund(outTradeNo: no, outRefundNo: "\(no)-r1", refundFen: 500, totalFen: 1234)
            #expect(refund.status == "PROCESSING")
            #expect(refund.refundFen == 500)
            let again = try await wechat.refund(outTradeNo: no, outRefundNo: "\(no)-r1", refundFen: 500, totalFen: 1234)
            #expect(again.refundID == refund.refundID)
            await #expect(throws: WeChatPayAPIError.api(status: 403, code: "NOT_ENOUGH", message: "退款金额超过可退金额")) {
                try await wechat.refund(outTradeNo: no, outRefundNo: "\(no)-r2", refundFen: 800, totalFen: 1234)
            }
        }
    }

    @Test func unknownTradeIsOrderNotExist() async throws {
        try await withGateway { gateway in
            let error = await #expect(throws: WeChatPayAPIError.self) {
                try await client(gateway).query(outTradeNo: tradeNo())
            }
            #expect(error?.status == 404)
            #expect(error?.code == "ORDER_NOT_EXIST")
        }
    }

    @Test func requestSignedWithAnotherKeyIsRefused() async throws {
        try await withGateway { gateway in
            let error = await #expect(throws: WeChatPayAPIError.self) {
                try await client(gateway, merchantKey: TestKeys.stranger).nativePay(outTradeNo: tradeNo(), description: "x", totalFen: 100)
            }
            #expect(error?.status == 401)
            #expect(error?.code == "SIGN_ERROR")
        }
    }

    @Test func noAnswerWithinTheTimeoutIsTimedOut() async throws {
        let silent = try await HTTPRecorder.start(hang: true)
        let wechat = WeChatPayClient(
            configuration: .init(
                mchID: Self.mchID, appID: "wxd678efh567hg6787", merchantSerialNo: Self.merchantSerial,
                merchantPrivateKey: TestKeys.merchant, platformKeys: [:], notifyURL: "https://recharge.example/n",
                baseURL: silent.url, requestTimeout: .milliseconds(500)),
            httpClient: .shared)
        await #expect(throws: WeChatPayAPIError.timedOut) {
            try await wechat.nativePay(outTradeNo: tradeNo(), description: "x", totalFen: 100)
        }
    }

    @Test func tamperedOrUnknownSignedResponseIsNotTrusted() async throws {
        try await withGateway { gateway in
            let wechat = client(gateway)
            try await gateway.hook("/_test/tamper?on=1")
            await #expect(throws: WeChatPayAPIError.responseVerification(.noMatchingSignature(.wechatPay))) {
                try await wechat.nativePay(outTradeNo: tradeNo(), description: "x", totalFen: 100)
            }
            try await gateway.hook("/_test/tamper?on=0")
            await #expect(throws: WeChatPayAPIError.responseVerification(.unknownPlatformSerial(.wechatPay, serial: Self.platformSerial))) {
                try await client(gateway, platformKeys: ["OTHER": TestKeys.provider.publicKey])
                    .nativePay(outTradeNo: tradeNo(), description: "x", totalFen: 100)
            }
            await #expect(throws: WeChatPayAPIError.responseVerification(.noMatchingSignature(.wechatPay))) {
                try await client(gateway, platformKeys: [Self.platformSerial: TestKeys.stranger.publicKey])
                    .nativePay(outTradeNo: tradeNo(), description: "x", totalFen: 100)
            }
        }
    }
}
