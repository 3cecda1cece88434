-- One database per service: services never share a database.
CREATE DATABASE intake OWNER mesh;
CREATE DATABASE dispatch OWNER mesh;
CREATE DATABASE mediation OWNER mesh;
CREATE DATABASE policing OWNER mesh;
CREATE DATABASE video_bridge OWNER mesh;
