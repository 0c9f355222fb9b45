import AsyncHTTPClient
import Crypto
import Foundation
import RechargeCore
import RechargePayments
import RechargeTestSupport
import _CryptoExtras

/// How each adapter is paid and forged in ``PaymentGatewayRegistryTests``: signed the way its provider signs.
extension PaymentGatewayRegistryTests {
    static func sandbox() -> Drive {
        let gateway = SandboxGateway(secret: "whsec_sbx_registry")
        @Sendable func notification(_ order: RechargeOrder, signer: SandboxGateway) -> PaymentNotification {
            let (body, signature) = signer.notification(for: order, succeeded: true, eventID: "evt_sbx_\(order.id)", now: Date())
            return PaymentNotification(body: body, headers: [SandboxGateway.signatureHeader: signature])
        }
        return Drive(gateway: gateway, currency: .usd, pay: { notification($0, signer: gateway) },
                     forge: { notification($0, signer: SandboxGateway(secret: "whsec_someone_else")) })
    }

    static func stripe(_ recorder: HTTPRecorder, hosted: Bool) throws -> Drive {
        let client = StripeClient(configuration: .init(secretKey: "sk_test_x", baseURL: recorder.url, automaticPaymentMethods: false), httpClient: .shared)
        let stripe = StripeGateway(webhookSecret: stripeSecret, client: client, publicURL: "https://recharge.example")
        let gateway: any PaymentGateway = hosted ? StripeCheckoutGateway(stripe) : StripePaymentIntentsGateway(stripe)
        @Sendable func event(_ order: RechargeOrder, secret: String) -> PaymentNotification {
            let reference = order.providerReference ?? ""
            let object = hosted
                ? #"{"id":"\#(reference)","object":"checkout.session","payment_status":"paid","status":"complete","payment_intent":"pi_of_\#(reference)","amount_total":10000,"currency":"usd","metadata":{"order":"\#(order.id)"}}"#
                : #"{"id":"\#(reference)","object":"payment_intent","amount":10000,"amount_received":10000,"currency":"usd","status":"succeeded","metadata":{"order":"\#(order.id)"}}"#
            let type = hosted ? "checkout.session.completed" : "payment_intent.succeeded"
            let body = Array(#"{"id":"evt_\#(reference)","object":"event","type":"\#(type)","data":{"object":\#(object)}}"#.utf8)
            let signature = StripeWebhookSignature.sign(payload: body, secret: secret, timestamp: Int64(Date().timeIntervalSince1970))
            return PaymentNotification(body: body, headers: [StripeWebhookSignature.headerName: signature])
        }
        // The checkout itself is held to Stripe elsewhere (localstripe, the Checkout Session tests); here the order
        // gets the reference Stripe would have given it.
        return Drive(gateway: gateway, currency: .usd, reference: { "\(hosted ? "cs" : "pi")_reg_\($0.id.dropFirst(4))" },
                     pay: { event($0, secret: stripeSecret) }, forge: { event($0, secret: "whsec_someone_else") },
                     beforeRefund: { order in
                         try recorder.respond(with: Data(#"""
                             {"id":"re_\#(order.id.dropFirst(4))","object":"refund","status":"succeeded","amount":10000,"currency":"usd","payment_intent":"\#(order.providerReference ?? "")"}
                             """#.utf8))
                     })
    }

    static func paypal(_ peer: GatewayPeer) -> Drive {
        let client = PayPalClient(configuration: .init(clientID: "AcLIENT", clientSecret: "s3cret", baseURL: peer.url, requestTimeout: .seconds(10)),
                                  httpClient: .shared)
        let gateway = PayPalGateway(client: client, webhookID: "WH-REG", verification: .api(toleranceSeconds: 300), publicURL: "https://recharge.example")
        @Sendable func delivery(_ query: String) async throws -> PaymentNotification {
            let delivery = try JSONDecoder().decode(PayPalCheckoutTests.Delivery.self, from: try await peer.fetch("/_test/webhook?\(query)"))
            return PaymentNotification(body: Array(delivery.body.utf8), headers: delivery.headers)
        }
        return Drive(gateway: gateway, currency: .usd, pay: { order in
            let token = order.providerReference ?? ""
            _ = try await peer.fetch("/_test/approve?token=\(token)")
            _ = try await client.capture(orderID: token, requestID: "registry-\(order.id)-capture")
            return try await delivery("type=PAYMENT.CAPTURE.COMPLETED&token=\(token)")
        }, forge: { order in try await delivery("type=CHECKOUT.ORDER.APPROVED&token=\(order.providerReference ?? "")&rogue=1") })
    }

    static func alipay(_ peer: GatewayPeer) throws -> Drive {
        let client = AlipayClient(configuration: .init(
            appID: "2021000000000001", merchantPrivateKey: merchant, alipayPublicKey: provider.publicKey,
            notifyURL: "https://recharge.example/webhooks/alipay", gatewayURL: "\(peer.url)/gateway.do", requestTimeout: .seconds(10)),
            httpClient: .shared)
        let gateway = try AlipayGateway(appID: "2021000000000001", sellerID: nil, alipayPublicKey: provider.publicKey.pemRepresentation, client: client)
        @Sendable func notification(_ order: RechargeOrder, signedWith key: _RSA.Signing.PrivateKey) throws -> PaymentNotification {
            let parameters = [
                "app_id": "2021000000000001", "out_trade_no": order.id, "trade_no": "2026120322001400000000000001", "trade_status": "TRADE_SUCCESS",
                "total_amount": "100.00", "notify_id": "notify-\(order.id)", "notify_type": "trade_status_sync", "charset": "utf-8",
                "notify_time": WalletNotificationTests.beijing(Date()),
            ]
            var all = parameters
            all["sign"] = try AlipayRequestSigner(appID: "2021000000000001", merchantPrivateKey: key).sign(parameters)
            all["sign_type"] = "RSA2"
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._*")
            let body = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            return PaymentNotification(body: Array(body.joined(separator: "&").utf8), headers: ["Content-Type": "application/x-www-form-urlencoded"])
        }
        return Drive(gateway: gateway, currency: cny, pay: { order in
            try await peer.hook("/_test/pay?out_trade_no=\(order.id)")
            return try notification(order, signedWith: provider)
        }, forge: { try notification($0, signedWith: stranger) })
    }

    static func wechat(_ peer: GatewayPeer) throws -> Drive {
        let client = WeChatPayClient(configuration: .init(
            mchID: "1900000001", appID: "wxd678efh567hg6787", merchantSerialNo: "MERCHANT01", merchantPrivateKey: merchant,
            platformKeys: ["PLATFORM01": provider.publicKey], notifyURL: "https://recharge.example/webhooks/wechat_pay",
            baseURL: peer.url, requestTimeout: .seconds(10)), httpClient: .shared)
        let gateway = try WeChatPayGateway(mchID: "1900000001", appID: "wxd678efh567hg6787", platformKeys: ["PLATFORM01": provider.publicKey.pemRepresentation],
                                           apiV3Key: apiV3Key, client: client)
        @Sendable func notification(_ order: RechargeOrder, signedWith key: _RSA.Signing.PrivateKey) throws -> PaymentNotification {
            let transaction = #"{"mchid":"1900000001","appid":"wxd678efh567hg6787","out_trade_no":"\#(order.id)","transaction_id":"4200000000202612030000000001","trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","success_time":"2026-12-03T09:29:58+08:00","payer":{"openid":"o1"},"amount":{"total":10000,"payer_total":10000,"currency":"CNY","payer_currency":"CNY"}}"#
            let sealed = try AES.GCM.seal(Data(transaction.utf8), using: SymmetricKey(data: Data(apiV3Key.utf8)),
                                          nonce: try AES.GCM.Nonce(data: Data("fdasflkja484".utf8)), authenticating: Data("transaction".utf8))
            let body = Data(#"{"id":"EV-\#(order.id)","create_time":"2026-12-03T09:30:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"\#((sealed.ciphertext + sealed.tag).base64EncodedString())","associated_data":"transaction","nonce":"fdasflkja484"}}"#.utf8)
            let timestamp = Int64(Date().timeIntervalSince1970)
            var message = Data("\(timestamp)\nNONCE42\n".utf8)
            message.append(body)
            message.append(UInt8(ascii: "\n"))
            let signature = try key.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
            return PaymentNotification(body: Array(body), headers: [
                WeChatPaySignatureHeaders.timestampName: String(timestamp), WeChatPaySignatureHeaders.nonceName: "NONCE42",
                WeChatPaySignatureHeaders.signatureName: signature, WeChatPaySignatureHeaders.serialName: "PLATFORM01",
            ])
        }
        return Drive(gateway: gateway, currency: cny, pay: { order in
            try await peer.hook("/_test/pay?out_trade_no=\(order.id)")
            return try notification(order, signedWith: provider)
        }, forge: { try notification($0, signedWith: stranger) })
    }

    /// Paid by importing the bank's statement, which the bank-statement scenarios test: no notification is ever taken.
    static func bank() -> Drive {
        let gateway = BankTransferGateway(account: BankTransferAccount(holder: "Recharge", account: "DE89370400440532013000", bank: nil))
        return Drive(gateway: gateway, currency: .usd, pay: { _ in nil },
                     forge: { PaymentNotification(body: Array(#"{"paid":"\#($0.id)"}"#.utf8), headers: [:]) })
    }
}
