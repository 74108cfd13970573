package kmirror;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

/**
 * Asks RemoteClusterUtils about the cluster at a bootstrap address and
 * prints one line per answer:
 *   upstream A,B,...
 *   hops ALIAS N                       (one per alias asked)
 *   offset TOPIC PARTITION OFFSET      (translateOffsets for remoteAlias/group)
 *
 * Usage: Rcu BOOTSTRAP POLICY_CLASS REMOTE_ALIAS GROUP [HOPS_ALIAS...]
 * (REMOTE_ALIAS or GROUP "-" skips translateOffsets).
 */
public final class Rcu {
    public static void main(String[] args) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        props.put("replication.policy.class", args[1]);
        Set<String> up = new TreeSet<>(RemoteClusterUtils.upstreamClusters(props));
        System.out.println("upstream " + String.join(",", up));
        for (int i = 4; i < args.length; i++)
            System.out.println("hops " + args[i] + " "
                + RemoteClusterUtils.replicationHops(props, args[i]));
        if (!args[2].equals("-") && !args[3].equals("-")) {
            Map<TopicPartition, OffsetAndMetadata> m = RemoteClusterUtils.translateOffsets(
                props, args[2], args[3], Duration.ofSeconds(30));
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : m.entrySet())
                System.out.println("offset " + e.getKey().topic() + " "
                    + e.getKey().partition() + " " + e.getValue().offset());
        }
        System.out.flush();
    }
}
