// The moderator page (being written).
import { pageSettings } from "./irc.js";
pageSettings();
