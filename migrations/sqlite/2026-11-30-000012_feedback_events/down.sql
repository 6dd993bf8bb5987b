DROP TABLE feedback_events;
