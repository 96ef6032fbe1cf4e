package io.runnel.testkit;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * A bare Kafka protocol connection for tests: requests are encoded and responses decoded with kafka-clients, but
 * the test chooses every version and can send any bytes (retries with the same sequence, garbage, huge sizes).
 */
public final class RawKafkaClient implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int correlationId;

    public RawKafkaClient(String bootstrap) throws IOException {
        String[] hp = bootstrap.split(":");
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), 10_000);
        socket.setSoTimeout(15_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** Sends {@code request} (at its own version) and returns the decoded response. */
    public <T extends AbstractResponse> T send(AbstractRequest request) throws IOException {
        return read(write(request));
    }

    /** Sends {@code request} without waiting for its response: read it with {@link #read} (requests pipelined as clients do). */
    public RequestHeader write(AbstractRequest request) throws IOException {
        RequestHeader header = new RequestHeader(request.apiKey(), request.version(), "raw-test", ++correlationId);
        sendFrame(request.serializeWithHeader(header));
        return header;
    }

    /** Reads the next response, which answers the request sent with {@code header}. */
    @SuppressWarnings("unchecked")
    public <T extends AbstractResponse> T read(RequestHeader header) throws IOException {
        return (T) AbstractResponse.parseResponse(readFrame(), header);
    }

    /** A new idempotent producer id (InitProducerId without a transactional id); fails unless the broker gave one. */
    public long newIdempotentProducerId() throws IOException {
        InitProducerIdResponse r = send(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(null)
                .setTransactionTimeoutMs(1000).setProducerId(-1).setProducerEpoch((short) -1)).build(ApiKeys.INIT_PRODUCER_ID.latestVersion(false)));
        Errors error = Errors.forCode(r.data().errorCode());
        if (error != Errors.NONE) throw new IllegalStateException("InitProducerId failed: " + error);
        return r.data().producerId();
    }

    /** Sends a request and reads no response (acks=0). */
    public void sendOneWay(AbstractRequest request) throws IOException {
        RequestHeader header = new RequestHeader(request.apiKey(), request.version(), "raw-test", ++correlationId);
        sendFrame(request.serializeWithHeader(header));
    }

    public void sendFrame(ByteBuffer body) throws IOException {
        byte[] bytes = new byte[4 + body.remaining()];
        ByteBuffer.wrap(bytes).putInt(body.remaining()).put(body.duplicate());
        out.write(bytes);
        out.flush();
    }

    /** Writes bytes as they are (no size prefix added). */
    public void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public ByteBuffer readFrame() throws IOException {
        int size = in.readInt();
        byte[] body = new byte[size];
        in.readFully(body);
        return ByteBuffer.wrap(body);
    }

    /** True when the broker closes the connection within the socket timeout. */
    public boolean closedByBroker() {
        try {
            while (in.read() >= 0) {
                // drain whatever was in flight
            }
            return true;
        } catch (EOFException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
