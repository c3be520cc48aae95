package io.cxstream.connector.source;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * What the enumerator checkpoints: the partitions it has already handed out (their offsets are in
 * the readers' state, so they must never be handed out again), the splits still waiting for their
 * reader, and whether the first discovery (the one that applies the start mode) has happened.
 */
public final class EnumeratorState {

    final Set<String> assignedSplitIds;
    final List<PartitionSplit> pending;
    final boolean initialDiscoveryDone;

    EnumeratorState(Set<String> assignedSplitIds, List<PartitionSplit> pending, boolean initialDiscoveryDone) {
        this.assignedSplitIds = assignedSplitIds;
        this.pending = pending;
        this.initialDiscoveryDone = initialDiscoveryDone;
    }

    public static final class Serializer implements SimpleVersionedSerializer<EnumeratorState> {
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(EnumeratorState state) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeBoolean(state.initialDiscoveryDone);
                out.writeInt(state.assignedSplitIds.size());
                for (String id : state.assignedSplitIds) {
                    out.writeUTF(id);
                }
                out.writeInt(state.pending.size());
                for (PartitionSplit split : state.pending) {
                    PartitionSplit.Serializer.write(split, out);
                }
            }
            return bytes.toByteArray();
        }

        @Override
        public EnumeratorState deserialize(int version, byte[] serialized) throws IOException {
            if (version != VERSION) {
                throw new IOException("Unknown EnumeratorState serializer version " + version);
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                boolean initialDone = in.readBoolean();
                int n = in.readInt();
                Set<String> assigned = new HashSet<>();
                for (int i = 0; i < n; i++) {
                    assigned.add(in.readUTF());
                }
                int m = in.readInt();
                List<PartitionSplit> pending = new ArrayList<>();
                for (int i = 0; i < m; i++) {
                    pending.add(PartitionSplit.Serializer.read(in));
                }
                return new EnumeratorState(assigned, pending, initialDone);
            }
        }
    }
}
