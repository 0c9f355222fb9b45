import NIOCore

/// Cuts the byte stream into SMPP PDUs using each header's command_length.
struct SMPPPDUDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMPPPDU

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let pdu = try SMPPPDU.decode(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(pdu))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A half PDU at close is discarded: the session is over and nobody can answer it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}

/// Writes PDUs as bytes.
struct SMPPPDUEncoder: MessageToByteEncoder {
    typealias OutboundIn = SMPPPDU

    func encode(data: SMPPPDU, out: inout ByteBuffer) throws {
        data.encode(into: &out)
    }
}
