import NIOCore

/// Why a received message cannot be processed, with the Result-Code the answer carries (RFC 6733 §7.1) and, for
/// AVP errors, the Failed-AVP to report. `header` is known whenever the 20-byte header was read; `partial` holds
/// the top-level AVPs decoded before the error (so the answer can echo Session-Id and the CC-Request fields).
public struct DiameterDecodeError: Error, Sendable, CustomStringConvertible {
    public var resultCode: DiameterResultCode
    public var failedAVP: DiameterAVP?
    public var header: DiameterHeader?
    public var partial: [DiameterAVP]
    public var reason: String

    public init(
        _ resultCode: DiameterResultCode, _ reason: String, failedAVP: DiameterAVP? = nil, header: DiameterHeader? = nil,
        partial: [DiameterAVP] = []
    ) {
        self.resultCode = resultCode
        self.reason = reason
        self.failedAVP = failedAVP
        self.header = header
        self.partial = partial
    }

    public var description: String { "Diameter \(resultCode.rawValue): \(reason)" }
}

/// Encoding and decoding of whole messages. Decoding reads the buffer in place: non-Grouped AVP data stays a
/// slice of the received bytes (no copy), Grouped data is parsed recursively.
public enum DiameterCodec {
    public static let headerLength = 20

    // MARK: Encoding

    public static func encode(_ message: DiameterMessage, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(1) << 24)  // version 1, length patched below
        buffer.writeInteger(UInt32(message.flags.rawValue) << 24 | (message.commandCode & 0x00FF_FFFF))
        buffer.writeInteger(message.applicationID)
        buffer.writeInteger(message.hopByHopID)
        buffer.writeInteger(message.endToEndID)
        for avp in message.avps { encode(avp, into: &buffer) }
        let length = UInt32(buffer.writerIndex - start)
        buffer.setInteger(UInt32(1) << 24 | length, at: start)
    }

    public static func encode(_ message: DiameterMessage, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        encode(message, into: &buffer)
        return buffer
    }

    public static func encode(_ avp: DiameterAVP, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        var flags = avp.flags
        if avp.vendorID != 0 { flags.insert(.vendorSpecific) } else { flags.remove(.vendorSpecific) }
        buffer.writeInteger(avp.code)
        buffer.writeInteger(UInt32(flags.rawValue) << 24)  // length patched below
        if avp.vendorID != 0 { buffer.writeInteger(avp.vendorID) }
        switch avp.value {
        case .raw(let bytes): buffer.writeImmutableBuffer(bytes)
        case .utf8(let text): buffer.writeString(text)
        case .octets(let bytes): buffer.writeBytes(bytes)
        case .unsigned32(let value): buffer.writeInteger(value)
        case .unsigned64(let value): buffer.writeInteger(value)
        case .integer32(let value): buffer.writeInteger(value)
        case .integer64(let value): buffer.writeInteger(value)
        case .address(let address):
            buffer.writeInteger(address.family)
            buffer.writeBytes(address.bytes)
        case .grouped(let members):
            for member in members { encode(member, into: &buffer) }
        }
        let length = buffer.writerIndex - start
        buffer.setInteger(UInt32(flags.rawValue) << 24 | UInt32(length), at: start + 4)
        let padding = (4 - length % 4) % 4
        if padding > 0 { buffer.writeRepeatingByte(0, count: padding) }
    }

    // MARK: Decoding

    /// Decodes exactly one message from `buffer` (which holds the whole message, as the frame decoder delivers it).
    /// Throws with 5015 for a length mismatch, 5011 for another version, 3008 for reserved or contradictory header
    /// bits, 5014 for an AVP whose length is impossible, 5001 for an AVP the dictionary does not know that carries
    /// the M bit, and 5014 for a fixed-size AVP (Unsigned32 …) of the wrong size.
    public static func decode(_ buffer: ByteBuffer, dictionary: DiameterDictionary = .standard) throws(DiameterDecodeError) -> DiameterMessage {
        let base = buffer.readerIndex
        guard buffer.readableBytes >= headerLength,
            let first = buffer.getInteger(at: base, as: UInt32.self),
            let second = buffer.getInteger(at: base + 4, as: UInt32.self),
            let applicationID = buffer.getInteger(at: base + 8, as: UInt32.self),
            let hopByHop = buffer.getInteger(at: base + 12, as: UInt32.self),
            let endToEnd = buffer.getInteger(at: base + 16, as: UInt32.self)
        else { throw DiameterDecodeError(.invalidMessageLength, "shorter than the 20-byte header") }
        let flags = DiameterMessage.Flags(rawValue: UInt8(second >> 24))
        let header = DiameterHeader(
            flags: flags, commandCode: second & 0x00FF_FFFF, applicationID: applicationID, hopByHopID: hopByHop, endToEndID: endToEnd)
        guard first >> 24 == 1 else { throw DiameterDecodeError(.unsupportedVersion, "version \(first >> 24)", header: header) }
        let length = Int(first & 0x00FF_FFFF)
        guard length == buffer.readableBytes, length % 4 == 0 else {
            throw DiameterDecodeError(.invalidMessageLength, "length field \(length), \(buffer.readableBytes) bytes", header: header)
        }
        guard flags.rawValue & 0x0F == 0, !(flags.contains(.request) && flags.contains(.error)) else {
            throw DiameterDecodeError(.invalidHeaderBits, "command flags 0x\(String(flags.rawValue, radix: 16))", header: header)
        }
        var avps: [DiameterAVP] = []
        avps.reserveCapacity(16)
        do {
            try decodeAVPs(buffer, from: base + headerLength, to: base + length, dictionary: dictionary, strict: true, into: &avps)
        } catch {
            var failure = error
            failure.header = header
            failure.partial = avps
            throw failure
        }
        return DiameterMessage(
            flags: flags, commandCode: header.commandCode, applicationID: applicationID, hopByHopID: hopByHop,
            endToEndID: endToEnd, avps: avps)
    }

    /// Parses the AVPs in [start, end) of `buffer`. Each AVP's padding may be absent only at the very end of the
    /// region (a lenient reading for the last member of a Grouped AVP written without its padding). Not `strict`
    /// inside Failed-AVP: what it carries is by definition what the other side could not accept (an unknown M-bit
    /// AVP, a wrong length), so it is kept as it came and never makes the answer itself undecodable.
    static func decodeAVPs(
        _ buffer: ByteBuffer, from start: Int, to end: Int, dictionary: DiameterDictionary, strict: Bool, into avps: inout [DiameterAVP]
    ) throws(DiameterDecodeError) {
        var offset = start
        while offset < end {
            guard end - offset >= 8, let code = buffer.getInteger(at: offset, as: UInt32.self),
                let flagsAndLength = buffer.getInteger(at: offset + 4, as: UInt32.self)
            else {
                throw DiameterDecodeError(.invalidAVPLength, "\(end - offset) bytes left, too few for an AVP header")
            }
            let flags = DiameterAVP.Flags(rawValue: UInt8(flagsAndLength >> 24))
            let length = Int(flagsAndLength & 0x00FF_FFFF)
            let vendorSpecific = flags.contains(.vendorSpecific)
            let headerSize = vendorSpecific ? 12 : 8
            var vendorID: UInt32 = 0
            if vendorSpecific {
                guard end - offset >= 12, let vendor = buffer.getInteger(at: offset + 8, as: UInt32.self) else {
                    throw DiameterDecodeError(.invalidAVPLength, "AVP \(code): vendor id past the end")
                }
                vendorID = vendor
            }
            guard length >= headerSize, length <= end - offset else {
                // RFC 6733 §7.5: report the AVP header with whatever data is there.
                let available = min(max(end - offset - headerSize, 0), 64)
                let data = buffer.getSlice(at: offset + headerSize, length: available) ?? ByteBuffer()
                throw DiameterDecodeError(
                    .invalidAVPLength, "AVP \(code) claims \(length) bytes, \(end - offset) left",
                    failedAVP: DiameterAVP(code: code, flags: flags, vendorID: vendorID, value: .raw(data)))
            }
            let dataStart = offset + headerSize
            let dataLength = length - headerSize
            let data = buffer.getSlice(at: dataStart, length: dataLength)!
            let definition = dictionary.definition(code: code, vendorID: vendorID)
            let value: DiameterAVP.Value
            if let definition {
                if strict, let fixed = definition.type.fixedLength, fixed != dataLength {
                    throw DiameterDecodeError(
                        .invalidAVPLength, "\(definition.name) has \(dataLength) data bytes, not \(fixed)",
                        failedAVP: DiameterAVP(code: code, flags: flags, vendorID: vendorID, value: .raw(data)))
                }
                if definition.type == .grouped {
                    var members: [DiameterAVP] = []
                    let memberStrict = strict && !(code == AVPKey.failedAVP.code && vendorID == 0)
                    do {
                        try decodeAVPs(buffer, from: dataStart, to: dataStart + dataLength, dictionary: dictionary, strict: memberStrict, into: &members)
                        value = .grouped(members)
                    } catch {
                        guard !memberStrict else { throw error }
                        value = .raw(data)
                    }
                } else {
                    value = .raw(data)
                }
            } else if strict && flags.contains(.mandatory) {
                throw DiameterDecodeError(
                    .avpUnsupported, "AVP \(AVPKey(code, vendor: vendorID)) is not supported but has the M bit",
                    failedAVP: DiameterAVP(code: code, flags: flags, vendorID: vendorID, value: .raw(data)))
            } else {
                value = .raw(data)
            }
            avps.append(DiameterAVP(code: code, flags: flags, vendorID: vendorID, value: value))
            offset += (length + 3) & ~3
        }
    }
}

/// What the frame decoder hands on: a whole message's bytes, or a header it refuses (after which it reads nothing
/// more: the connection is to be closed).
public enum DiameterFrame: Sendable {
    case message(ByteBuffer)
    case invalid(DiameterDecodeError)
}

/// Splits the TCP stream into messages by the 24-bit length. A version other than 1, a length under 20, not a
/// multiple of 4, or above `maximumMessageSize` is refused as soon as the first 20 bytes are in (so the answer can
/// echo the identifiers), and everything after it is discarded: a peer cannot make this buffer more than
/// `maximumMessageSize` bytes, whatever length it claims.
public struct DiameterFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = DiameterFrame
    public let maximumMessageSize: Int
    private var refused = false

    public init(maximumMessageSize: Int = 65_536) {
        self.maximumMessageSize = maximumMessageSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if refused {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let word = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        let version = word >> 24
        let length = Int(word & 0x00FF_FFFF)
        var failure: DiameterDecodeError?
        if version != 1 {
            failure = DiameterDecodeError(.unsupportedVersion, "version \(version)")
        } else if length < DiameterCodec.headerLength || length % 4 != 0 {
            failure = DiameterDecodeError(.invalidMessageLength, "message length \(length)")
        } else if length > maximumMessageSize {
            failure = DiameterDecodeError(.invalidMessageLength, "message length \(length) over the maximum \(maximumMessageSize)")
        }
        if var failure {
            // Wait for the header (20 bytes at most) so the answer can echo it; then refuse the rest.
            guard buffer.readableBytes >= DiameterCodec.headerLength else { return .needMoreData }
            failure.header = Self.header(buffer)
            refused = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(NIOAny(DiameterFrame.invalid(failure)))
            return .needMoreData
        }
        guard let message = buffer.readSlice(length: length) else { return .needMoreData }
        context.fireChannelRead(NIOAny(DiameterFrame.message(message)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    static func header(_ buffer: ByteBuffer) -> DiameterHeader {
        let base = buffer.readerIndex
        let second = buffer.getInteger(at: base + 4, as: UInt32.self) ?? 0
        return DiameterHeader(
            flags: DiameterMessage.Flags(rawValue: UInt8(second >> 24)), commandCode: second & 0x00FF_FFFF,
            applicationID: buffer.getInteger(at: base + 8, as: UInt32.self) ?? 0,
            hopByHopID: buffer.getInteger(at: base + 12, as: UInt32.self) ?? 0,
            endToEndID: buffer.getInteger(at: base + 16, as: UInt32.self) ?? 0)
    }
}
