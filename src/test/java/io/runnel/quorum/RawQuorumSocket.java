package io.runnel.quorum;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;

/** A plain socket that writes to a quorum listener what a broken or hostile peer would (the tests' bad input). */
final class RawQuorumSocket {
    private RawQuorumSocket() {
    }

    interface Writes {
        void write(DataOutputStream out) throws IOException;
    }

    /** Writes {@code body} as one length-prefixed frame. */
    static void frame(DataOutputStream out, byte[] body) throws IOException {
        out.writeInt(body.length);
        out.write(body);
    }

    /** Connects to {@code port}, writes, and expects the listener to close the connection without an answer. */
    static void assertClosedAfter(int port, Writes writes) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            writes.write(out);
            out.flush();
            assertThat(new DataInputStream(s.getInputStream()).read()).as("end of stream: the listener closed the connection").isEqualTo(-1);
        }
    }
}
