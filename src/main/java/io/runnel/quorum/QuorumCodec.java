package io.runnel.quorum;

import io.microraft.MembershipChangeMode;
import io.microraft.RaftEndpoint;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.groupop.UpdateRaftGroupMembersOp;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.message.AppendEntriesFailureResponse;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.InstallSnapshotRequest;
import io.microraft.model.message.InstallSnapshotResponse;
import io.microraft.model.message.PreVoteRequest;
import io.microraft.model.message.PreVoteResponse;
import io.microraft.model.message.RaftMessage;
import io.microraft.model.message.TriggerLeaderElectionRequest;
import io.microraft.model.message.VoteRequest;
import io.microraft.model.message.VoteResponse;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The metadata quorum's binary formats: Raft messages between brokers, and log entries, snapshot chunks and member
 * lists on disk ({@link FileRaftStore}). Operations (log entries' and snapshot chunks' payloads) are either the
 * state machine's, which are UTF-8 texts, or MicroRaft's own membership changes. Decoding checks every length against
 * the bytes that are there, and terms, indices and snapshot chunk counts against their ranges, so a corrupt frame fails
 * with {@link IllegalArgumentException} instead of allocating what it claims or steering MicroRaft into a state it
 * does not expect. That is a guard against damage, not against a hostile peer: only authenticated brokers may send
 * quorum messages at all.
 */
public final class QuorumCodec {
    /** Bumped when a format changes incompatibly; a frame of another version is refused. */
    static final byte VERSION = 1;

    private static final byte PRE_VOTE_REQUEST = 1;
    private static final byte PRE_VOTE_RESPONSE = 2;
    private static final byte VOTE_REQUEST = 3;
    private static final byte VOTE_RESPONSE = 4;
    private static final byte APPEND_REQUEST = 5;
    private static final byte APPEND_SUCCESS = 6;
    private static final byte APPEND_FAILURE = 7;
    private static final byte INSTALL_SNAPSHOT_REQUEST = 8;
    private static final byte INSTALL_SNAPSHOT_RESPONSE = 9;
    private static final byte TRIGGER_ELECTION = 10;

    private static final byte OP_TEXT = 1;
    private static final byte OP_MEMBERS = 2;

    static final RaftModelFactory MODEL = new DefaultRaftModelFactory();
    /** The most chunks a snapshot may announce (the metadata image is split in far fewer). */
    static final int MAX_SNAPSHOT_CHUNKS = 10_000;

    private QuorumCodec() {
    }

    // ---- messages ----

    /** A Raft message as bytes: the format version, a type, the group id, sender and term, then the type's fields. */
    public static byte[] encode(RaftMessage message) {
        return write(out -> {
            out.writeByte(VERSION);
            out.writeByte(type(message));
            writeText(out, String.valueOf(message.getGroupId()));
            writeEndpoint(out, message.getSender());
            out.writeInt(message.getTerm());
            if (message instanceof PreVoteRequest m) {
                out.writeInt(m.getLastLogTerm());
                out.writeLong(m.getLastLogIndex());
            } else if (message instanceof PreVoteResponse m) {
                out.writeBoolean(m.isGranted());
            } else if (message instanceof VoteRequest m) {
                out.writeInt(m.getLastLogTerm());
                out.writeLong(m.getLastLogIndex());
                out.writeBoolean(m.isSticky());
            } else if (message instanceof VoteResponse m) {
                out.writeBoolean(m.isGranted());
            } else if (message instanceof AppendEntriesRequest m) {
                out.writeInt(m.getPreviousLogTerm());
                out.writeLong(m.getPreviousLogIndex());
                out.writeLong(m.getCommitIndex());
                out.writeInt(m.getLogEntries().size());
                for (LogEntry e : m.getLogEntries()) writeEntry(out, e);
                out.writeLong(m.getQuerySequenceNumber());
                out.writeLong(m.getFlowControlSequenceNumber());
            } else if (message instanceof AppendEntriesSuccessResponse m) {
                out.writeLong(m.getLastLogIndex());
                out.writeLong(m.getQuerySequenceNumber());
                out.writeLong(m.getFlowControlSequenceNumber());
            } else if (message instanceof AppendEntriesFailureResponse m) {
                out.writeLong(m.getExpectedNextIndex());
                out.writeLong(m.getQuerySequenceNumber());
                out.writeLong(m.getFlowControlSequenceNumber());
            } else if (message instanceof InstallSnapshotRequest m) {
                out.writeBoolean(m.isSenderLeader());
                out.writeInt(m.getSnapshotTerm());
                out.writeLong(m.getSnapshotIndex());
                out.writeInt(m.getTotalSnapshotChunkCount());
                out.writeBoolean(m.getSnapshotChunk() != null);
                if (m.getSnapshotChunk() != null) writeChunk(out, m.getSnapshotChunk());
                writeEndpoints(out, m.getSnapshottedMembers());
                writeMembers(out, m.getGroupMembersView());
                out.writeLong(m.getQuerySequenceNumber());
                out.writeLong(m.getFlowControlSequenceNumber());
            } else if (message instanceof InstallSnapshotResponse m) {
                out.writeLong(m.getSnapshotIndex());
                out.writeInt(m.getRequestedSnapshotChunkIndex());
                out.writeLong(m.getQuerySequenceNumber());
                out.writeLong(m.getFlowControlSequenceNumber());
            } else if (message instanceof TriggerLeaderElectionRequest m) {
                out.writeInt(m.getLastLogTerm());
                out.writeLong(m.getLastLogIndex());
            }
        });
    }

    private static byte type(RaftMessage m) {
        if (m instanceof PreVoteRequest) return PRE_VOTE_REQUEST;
        if (m instanceof PreVoteResponse) return PRE_VOTE_RESPONSE;
        if (m instanceof VoteRequest) return VOTE_REQUEST;
        if (m instanceof VoteResponse) return VOTE_RESPONSE;
        if (m instanceof AppendEntriesRequest) return APPEND_REQUEST;
        if (m instanceof AppendEntriesSuccessResponse) return APPEND_SUCCESS;
        if (m instanceof AppendEntriesFailureResponse) return APPEND_FAILURE;
        if (m instanceof InstallSnapshotRequest) return INSTALL_SNAPSHOT_REQUEST;
        if (m instanceof InstallSnapshotResponse) return INSTALL_SNAPSHOT_RESPONSE;
        if (m instanceof TriggerLeaderElectionRequest) return TRIGGER_ELECTION;
        throw new IllegalArgumentException("Unknown Raft message " + m.getClass().getName());
    }

    /** The message {@link #encode} wrote; {@link IllegalArgumentException} for anything else. */
    public static RaftMessage decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            byte version = in.get();
            if (version != VERSION) throw new IllegalArgumentException("Unsupported quorum message version " + version);
            byte type = in.get();
            String group = readText(in);
            RaftEndpoint sender = readEndpoint(in);
            int term = term(in);
            RaftMessage m = switch (type) {
                case PRE_VOTE_REQUEST -> MODEL.createPreVoteRequestBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setLastLogTerm(term(in)).setLastLogIndex(index(in)).build();
                case PRE_VOTE_RESPONSE -> MODEL.createPreVoteResponseBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setGranted(readBoolean(in)).build();
                case VOTE_REQUEST -> MODEL.createVoteRequestBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setLastLogTerm(term(in)).setLastLogIndex(index(in)).setSticky(readBoolean(in)).build();
                case VOTE_RESPONSE -> MODEL.createVoteResponseBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setGranted(readBoolean(in)).build();
                case APPEND_REQUEST -> {
                    int previousTerm = term(in);
                    long previousIndex = index(in);
                    long commitIndex = index(in);
                    int count = count(in, 12);
                    List<LogEntry> entries = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) entries.add(readEntry(in));
                    yield MODEL.createAppendEntriesRequestBuilder().setGroupId(group).setSender(sender).setTerm(term)
                            .setPreviousLogTerm(previousTerm).setPreviousLogIndex(previousIndex).setCommitIndex(commitIndex)
                            .setLogEntries(entries).setQuerySequenceNumber(index(in)).setFlowControlSequenceNumber(index(in)).build();
                }
                case APPEND_SUCCESS -> MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setLastLogIndex(index(in)).setQuerySequenceNumber(index(in)).setFlowControlSequenceNumber(index(in)).build();
                case APPEND_FAILURE -> MODEL.createAppendEntriesFailureResponseBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setExpectedNextIndex(index(in)).setQuerySequenceNumber(index(in)).setFlowControlSequenceNumber(index(in)).build();
                case INSTALL_SNAPSHOT_REQUEST -> {
                    boolean leader = readBoolean(in);
                    int snapshotTerm = term(in);
                    long snapshotIndex = index(in);
                    int chunks = in.getInt();
                    if (chunks < 0 || chunks > MAX_SNAPSHOT_CHUNKS) throw new IllegalArgumentException("A snapshot of " + chunks + " chunks");
                    SnapshotChunk chunk = readBoolean(in) ? readChunk(in) : null;
                    List<RaftEndpoint> snapshotted = readEndpoints(in);
                    RaftGroupMembersView members = readMembers(in);
                    yield MODEL.createInstallSnapshotRequestBuilder().setGroupId(group).setSender(sender).setTerm(term).setSenderLeader(leader)
                            .setSnapshotTerm(snapshotTerm).setSnapshotIndex(snapshotIndex).setTotalSnapshotChunkCount(chunks).setSnapshotChunk(chunk)
                            .setSnapshottedMembers(snapshotted).setGroupMembersView(members).setQuerySequenceNumber(index(in))
                            .setFlowControlSequenceNumber(index(in)).build();
                }
                case INSTALL_SNAPSHOT_RESPONSE -> MODEL.createInstallSnapshotResponseBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setSnapshotIndex(index(in)).setRequestedSnapshotChunkIndex(chunkIndex(in)).setQuerySequenceNumber(index(in))
                        .setFlowControlSequenceNumber(index(in)).build();
                case TRIGGER_ELECTION -> MODEL.createTriggerLeaderElectionRequestBuilder().setGroupId(group).setSender(sender).setTerm(term)
                        .setLastLogTerm(term(in)).setLastLogIndex(index(in)).build();
                default -> throw new IllegalArgumentException("Unknown quorum message type " + type);
            };
            if (in.hasRemaining()) throw new IllegalArgumentException(in.remaining() + " bytes after a quorum message");
            return m;
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("A quorum message ends early", e);
        }
    }

    // ---- parts shared with the store ----

    static void writeEntry(DataOutputStream out, LogEntry e) throws IOException {
        out.writeLong(e.getIndex());
        out.writeInt(e.getTerm());
        writeOperation(out, e.getOperation());
    }

    static LogEntry readEntry(ByteBuffer in) {
        long index = index(in);
        int term = term(in);
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(term).setOperation(readOperation(in)).build();
    }

    static void writeChunk(DataOutputStream out, SnapshotChunk c) throws IOException {
        out.writeLong(c.getIndex());
        out.writeInt(c.getTerm());
        out.writeInt(c.getSnapshotChunkIndex());
        out.writeInt(c.getSnapshotChunkCount());
        writeMembers(out, c.getGroupMembersView());
        writeOperation(out, c.getOperation());
    }

    static SnapshotChunk readChunk(ByteBuffer in) {
        long index = index(in);
        int term = term(in);
        int chunkIndex = chunkIndex(in);
        int chunkCount = in.getInt();
        if (chunkCount < 1 || chunkCount > MAX_SNAPSHOT_CHUNKS || chunkIndex >= chunkCount) {
            throw new IllegalArgumentException("Snapshot chunk " + chunkIndex + " of " + chunkCount);
        }
        RaftGroupMembersView members = readMembers(in);
        return MODEL.createSnapshotChunkBuilder().setIndex(index).setTerm(term).setSnapshotChunkIndex(chunkIndex).setSnapshotChunkCount(chunkCount)
                .setGroupMembersView(members).setOperation(readOperation(in)).build();
    }

    static void writeMembers(DataOutputStream out, RaftGroupMembersView v) throws IOException {
        out.writeLong(v.getLogIndex());
        writeEndpoints(out, v.getMembers());
        writeEndpoints(out, v.getVotingMembers());
    }

    static RaftGroupMembersView readMembers(ByteBuffer in) {
        long index = index(in);
        List<RaftEndpoint> members = readEndpoints(in);
        List<RaftEndpoint> voting = readEndpoints(in);
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(index).setMembers(members).setVotingMembers(voting).build();
    }

    static void writeEndpoint(DataOutputStream out, RaftEndpoint endpoint) throws IOException {
        if (!(endpoint instanceof QuorumEndpoint q)) throw new IllegalArgumentException("Not a quorum endpoint: " + endpoint);
        out.writeInt(q.nodeId());
        writeText(out, q.directoryId());
    }

    static QuorumEndpoint readEndpoint(ByteBuffer in) {
        return new QuorumEndpoint(in.getInt(), readText(in));
    }

    static void writeEndpoints(DataOutputStream out, Collection<RaftEndpoint> endpoints) throws IOException {
        out.writeInt(endpoints.size());
        for (RaftEndpoint e : endpoints) writeEndpoint(out, e);
    }

    static List<RaftEndpoint> readEndpoints(ByteBuffer in) {
        int count = count(in, 8);
        List<RaftEndpoint> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(readEndpoint(in));
        return out;
    }

    /** An operation: the state machine's text, or MicroRaft's membership change. */
    static void writeOperation(DataOutputStream out, Object operation) throws IOException {
        if (operation instanceof String text) {
            out.writeByte(OP_TEXT);
            writeText(out, text);
        } else if (operation instanceof UpdateRaftGroupMembersOp op) {
            out.writeByte(OP_MEMBERS);
            writeEndpoints(out, op.getMembers());
            writeEndpoints(out, op.getVotingMembers());
            writeEndpoint(out, op.getEndpoint());
            writeText(out, op.getMode().name());
        } else {
            throw new IllegalArgumentException("Cannot encode a quorum operation of type " + operation.getClass().getName());
        }
    }

    static Object readOperation(ByteBuffer in) {
        byte type = in.get();
        return switch (type) {
            case OP_TEXT -> readText(in);
            case OP_MEMBERS -> {
                List<RaftEndpoint> members = readEndpoints(in);
                List<RaftEndpoint> voting = readEndpoints(in);
                RaftEndpoint endpoint = readEndpoint(in);
                MembershipChangeMode mode;
                try {
                    mode = MembershipChangeMode.valueOf(readText(in));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("Unknown membership change", e);
                }
                yield MODEL.createUpdateRaftGroupMembersOpBuilder().setMembers(members).setVotingMembers(voting).setEndpoint(endpoint)
                        .setMode(mode).build();
            }
            default -> throw new IllegalArgumentException("Unknown quorum operation type " + type);
        };
    }

    static void writeText(DataOutputStream out, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    static String readText(ByteBuffer in) {
        int length = count(in, 1);
        byte[] bytes = new byte[length];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static int term(ByteBuffer in) {
        int term = in.getInt();
        if (term < 0) throw new IllegalArgumentException("A negative term: " + term);
        return term;
    }

    /** A log index or sequence number: never negative. */
    private static long index(ByteBuffer in) {
        long index = in.getLong();
        if (index < 0) throw new IllegalArgumentException("A negative index: " + index);
        return index;
    }

    private static int chunkIndex(ByteBuffer in) {
        int i = in.getInt();
        if (i < 0 || i >= MAX_SNAPSHOT_CHUNKS) throw new IllegalArgumentException("Snapshot chunk index " + i);
        return i;
    }

    private static boolean readBoolean(ByteBuffer in) {
        byte b = in.get();
        if (b != 0 && b != 1) throw new IllegalArgumentException("Not a boolean: " + b);
        return b == 1;
    }

    /** A count of items of at least {@code minBytes} each, checked against the bytes left. */
    private static int count(ByteBuffer in, int minBytes) {
        int count = in.getInt();
        if (count < 0 || (long) count * minBytes > in.remaining()) {
            throw new IllegalArgumentException("A count of " + count + " does not fit the " + in.remaining() + " bytes left");
        }
        return count;
    }

    interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writer.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // not from a byte array
        }
        return bytes.toByteArray();
    }
}
