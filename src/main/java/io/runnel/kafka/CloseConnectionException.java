package io.runnel.kafka;

/** Tells the connection to close instead of answering (Kafka's way to signal a failed acks=0 produce). */
public final class CloseConnectionException extends RuntimeException {
    public CloseConnectionException(String message) {
        super(message, null, false, false);
    }
}
